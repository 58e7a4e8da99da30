"""A schedule trace in words: the tile sizes of each loop, what is parallel, vectorised,
unrolled, cached or inlined; the loop nest it produces; two traces side by side."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import tvm

_ASSIGN = re.compile(r"^([\w, ]+?) = sch\.(\w+)\((.*)\)$")
_CALL = re.compile(r"^sch\.(\w+)\((.*)\)$")
# Calls after which a block's loops are no longer the template's: through the loops they
# take, or the block they move or rewrite.
_RESHAPE_LOOPS = {"split", "fuse", "reorder", "loop_partition", "merge"}
_RESHAPE_BLOCK = {"compute_at", "reverse_compute_at", "transform_layout", "reindex",
                  "blockize", "tensorize", "transform_block_layout", "pad_einsum",
                  "rolling_buffer", "decompose_padding"}


@dataclass(frozen=True)
class Block:
    """A block of the template before any schedule: its loops (name, extent), outermost
    first, and the buffers it reads and writes."""

    loops: tuple[tuple[str, int], ...]
    reads: tuple[str, ...]
    writes: tuple[str, ...]


def template_blocks(mod: tvm.IRModule) -> dict[str, Block]:
    """The blocks of a template's ``main``, by name."""
    sch = tvm.s_tir.Schedule(mod)
    blocks = {}
    for rv in sch.get_child_blocks(sch.get_sblock("root")):
        block = sch.get(rv)
        blocks[block.name_hint] = Block(
            tuple((sch.get(lp).loop_var.name, int(sch.get(lp).extent))
                  for lp in sch.get_loops(rv)),
            tuple(r.source.name for r in block.reads), tuple(w.source.name for w in block.writes))
    return blocks


def describe_trace(lines: list[str], template: dict[str, Block]) -> list[str]:
    """One line per decision of a trace (``Trace.as_python(remove_postproc=True)``) of a
    schedule of the template whose blocks are ``template``."""
    blocks: dict[str, str] = {}  # block variable -> block name
    names: dict[str, str] = {}  # loop variable -> original loop name (extent)
    values: dict[str, str] = {}  # sampled categorical variable -> its value
    sampled: dict[str, str] = {}  # tile-size variable -> its value
    owner: dict[str, str] = {}  # loop variable -> the block it was fetched for
    reshaped: set[str] = set()  # blocks whose loops are no longer the template's
    said = []
    for line in lines:
        outs, call, args = _parse(line)
        kw = {k: v.strip('"') for k, v in _keywords(args).items()}
        loops = re.findall(r"\bl\d+\b", args)  # the loop variables the call takes
        if call in _RESHAPE_LOOPS:
            reshaped |= {owner.get(v, "") for v in loops}
        elif call in _RESHAPE_BLOCK:
            reshaped.add(blocks.get(kw.get("block"), ""))
        if call == "get_sblock":
            blocks[outs[0]] = kw.get("name", "?")
        elif call == "get_loops":
            name = blocks.get(kw.get("block"), "")
            owner.update(dict.fromkeys(outs, name))
            block = template.get(name) if name not in reshaped else None
            for out, (loop, extent) in zip(outs, block.loops if block else []):
                names[out] = f"{loop} ({extent})"
        elif call == "split":  # TVM names the parts j_0, j_1...
            loop = names.get(kw.get("loop"), kw.get("loop"))
            factors = kw.get("factors", "[]").strip("[]").split(", ")
            if not all(f in sampled for f in factors):  # a fixed split (a hand-written sketch)
                sizes = (sampled.get(f, "?" if f == "None" else f) for f in factors)
                said.append(f"split {loop}: " + " x ".join(sizes))
            owner.update(dict.fromkeys(outs, owner.get(kw.get("loop"), "")))
            if kw.get("loop") in names:
                names.update({out: f"{loop.split(' ')[0]}_{k}" for k, out in enumerate(outs)})
        elif call == "fuse":
            parts = [names.get(v.strip(), v.strip()).split(" ")[0]
                     for v in args.split(",") if "=" not in v]
            names[outs[0]] = "_".join(parts) + "_fused"
            owner[outs[0]] = owner.get(loops[0], "") if loops else ""
        elif call == "sample_perfect_tile":
            decision = kw.get("decision", "[]").strip("[]").split(", ")
            sampled.update(zip(outs, decision))
            tiles = " x ".join(decision)
            said.append(f"tile {names.get(kw.get('loop'), kw.get('loop'))}: {tiles}")
        elif call == "sample_categorical":
            options = kw.get("candidates", "[]").strip("[]").split(", ")
            values[outs[0]] = options[int(kw.get("decision", 0))]
        elif call == "annotate":
            said.extend(_annotation(kw, values, blocks))
        elif call in ("parallel", "vectorize", "unroll"):
            said.append(f"{call} {names.get(kw.get('loop'), kw.get('loop'))}")
        elif call in ("cache_read", "cache_write"):  # TVM names the copy <buffer>_<scope>
            block = template.get(blocks.get(kw.get("block")))
            kind = call.split("_")[1]
            index = int(kw.get(f"{kind}_buffer_index", 0))
            buffers = (block.reads if kind == "read" else block.writes) if block else []
            if index < len(buffers):
                blocks[outs[0]] = f"{buffers[index]}_{kw.get('storage_scope')}"
            said.append(f"{call.replace('_', ' ')} of block {blocks.get(kw.get('block'), '?')} "
                        f"in {kw.get('storage_scope', '?')} memory")
        elif call in ("compute_inline", "reverse_compute_inline"):
            said.append(f"inline block {blocks.get(kw.get('block'), '?')}")
        elif call in ("compute_at", "reverse_compute_at"):
            said.append(f"compute block {blocks.get(kw.get('block'), '?')} inside loop "
                        f"{names.get(kw.get('loop'), kw.get('loop'))}")
        elif call == "bind":
            said.append(f"bind {names.get(kw.get('loop'), kw.get('loop'))} to "
                        f"{kw.get('thread_axis', '?')}")
        elif call in ("decompose_reduction", "tensorize", "blockize", "transform_layout",
                      "storage_align", "set_scope"):
            said.append(f"{call.replace('_', ' ')} {blocks.get(kw.get('block'), '')}".strip())
    return said


def _parse(line: str) -> tuple[list[str], str, str]:
    """A trace line's assigned variables, schedule call and its arguments."""
    if match := _ASSIGN.match(line):
        return match.group(1).replace(" ", "").split(","), match.group(2), match.group(3)
    if match := _CALL.match(line):
        return [], match.group(1), match.group(2)
    return [], "", ""


def _annotation(kw: dict[str, str], values: dict[str, str], blocks: dict[str, str]) -> list[str]:
    key, value = kw.get("ann_key", ""), kw.get("ann_val", "")
    value = values.get(value, value)
    where = blocks.get(kw.get("block_or_loop"), kw.get("block_or_loop"))
    if key == "meta_schedule.parallel":
        return [f"parallel: outer loops fused up to {value} iterations per thread"]
    if key == "meta_schedule.vectorize":
        return [f"vectorise: innermost loops up to {value} elements"]
    if key.startswith("meta_schedule.unroll_"):
        kind = key.rsplit("_", 1)[1]
        return ["no unrolling" if value == "0" else f"unroll ({kind}): up to {value} steps"]
    if key == "meta_schedule.tiling_structure":
        return [f"multi-level tiling {value} of block {where}"]
    return []


def _keywords(args: str) -> dict[str, str]:
    """``a=1, b=[1, 2], c="x"`` as {"a": "1", "b": "[1, 2]", "c": '"x"'}."""
    found, depth, current = {}, 0, ""
    for char in args + ",":
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            name, _, value = current.partition("=")
            if value:
                found[name.strip()] = value.strip()
            current = ""
        else:
            current += char
    return found


def loop_nest(script: str) -> list[str]:
    """The loops and blocks of a scheduled function's TVMScript, indented as nested."""
    kept = []
    for line in script.splitlines():
        text = line.strip()
        if text.startswith("for "):
            notes = re.search(r", annotations=\{(.*)\}", text)
            text = re.sub(r", annotations=\{.*\}", "", text).rstrip(":").replace("T.", "")
            if notes:
                text += "  # " + notes.group(1).replace('"pragma_', '"')
        elif text.startswith("with T.sblock("):
            text = "block " + text.split('"')[1]
        else:
            continue
        kept.append((len(line) - len(line.lstrip()), text))
    base = min((indent for indent, _ in kept), default=0)
    return [" " * ((indent - base) // 2) + text for indent, text in kept]


def side_by_side(left: list[str], right: list[str], titles: tuple[str, str],
                 width: int = 160) -> str:
    """Two lists of lines aligned by difflib; ``|`` marks lines that differ, ``<`` and
    ``>`` lines only one side has."""
    column = max(20, (width - 3) // 2)
    rows = [f"{titles[0][:column]:<{column}}   {titles[1][:column]}"]

    def fit(text: str) -> str:
        return text if len(text) <= column else text[:column - 1] + "~"

    for tag, a0, a1, b0, b1 in difflib.SequenceMatcher(None, left, right, False).get_opcodes():
        for i in range(max(a1 - a0, b1 - b0)):
            a = left[a0 + i] if a0 + i < a1 else ""
            b = right[b0 + i] if b0 + i < b1 else ""
            mark = " " if tag == "equal" else "|" if a and b else "<" if a else ">"
            rows.append(f"{fit(a):<{column}} {mark} {fit(b)}")
    return "\n".join(rows)
