"""A short reading of a compiled CPU kernel's assembly (AT&T syntax, as LLVM writes it):
the vector registers it uses and what its hot loop does."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FUNCTION = re.compile(r"^([A-Za-z_][\w.$]*):")
_LABEL = re.compile(r"^(\.L[\w.$]+):")
_JUMP = re.compile(r"^\s+j[a-z]+\s+(\.L[\w.$]+)\s*$")
_INSTRUCTION = re.compile(r"^\s+([a-z][a-z0-9]*)\s*(.*)$")
_WIDTHS = ("zmm", "ymm", "xmm")
_BITS = {"zmm": 512, "ymm": 256, "xmm": 128}


@dataclass(frozen=True)
class LoopSummary:
    """One loop of the assembly: where it is and what its body does per iteration."""

    function: str
    first_line: int  # 1-based, in the assembly text
    instructions: int
    width: str  # widest vector register used: zmm, ymm, xmm, or scalar
    fma: int  # vector fused multiply-adds
    vector_loads: int  # vector instructions that read memory (FMAs with a memory operand too)
    vector_stores: int
    broadcasts: int

    def describe(self) -> str:
        bits = f" ({_BITS[self.width]}-bit)" if self.width in _BITS else ""
        return (f"hot loop in {self.function} at line {self.first_line}: {self.instructions} "
                f"instructions, {self.width}{bits} registers, {self.fma} FMA, "
                f"{self.vector_loads} vector loads ({self.broadcasts} broadcasts), "
                f"{self.vector_stores} vector stores")


@dataclass(frozen=True)
class AsmSummary:
    """The widest vector register of the kernel, its FMA count, and its hot loop."""

    width: str
    fma: int
    hot_loop: LoopSummary | None

    def describe(self) -> str:
        bits = f" ({_BITS[self.width]}-bit)" if self.width in _BITS else ""
        head = f"vector width in use: {self.width}{bits}; {self.fma} FMA instructions in all"
        return head + ("\n" + self.hot_loop.describe() if self.hot_loop else "\nno loop found")


def summarize_asm(text: str) -> AsmSummary:
    """Read assembly text: the innermost loop with the most FMAs (or, without any, the most
    vector instructions) is the hot loop; a loop is a backward jump to a label of its
    function."""
    lines = text.splitlines()
    loops: list[tuple[str, int, int]] = []  # function, first and last line index
    function, labels = "", {}
    for i, line in enumerate(lines):
        if match := _FUNCTION.match(line):
            function, labels = match.group(1), {}
        elif match := _LABEL.match(line):
            labels[match.group(1)] = i
        elif (match := _JUMP.match(line)) and match.group(1) in labels:
            loops.append((function, labels[match.group(1)], i))
    body = [_instruction(ln) for ln in lines]
    innermost = [(f, a, b) for f, a, b in loops
                 if not any(a <= a2 and b2 <= b and (a2, b2) != (a, b) for _f, a2, b2 in loops)]
    summaries = [_loop(f, a, body[a:b + 1]) for f, a, b in innermost]
    hot = max(summaries, key=lambda s: (s.fma, s.vector_loads + s.vector_stores + s.fma),
              default=None)
    everything = [ins for ins in body if ins]
    return AsmSummary(_width(everything), sum(_is_fma(m) for m, _ in everything), hot)


def _instruction(line: str) -> tuple[str, str] | None:
    match = _INSTRUCTION.match(line.split("#", 1)[0])
    if not match or match.group(1).startswith("."):
        return None
    return match.group(1), match.group(2)


def _loop(function: str, first: int, body: list) -> LoopSummary:
    ins = [i for i in body if i]
    vector = [(m, _operands(ops)) for m, ops in ins if m.startswith("v")]
    loads = [(m, ops) for m, ops in vector if len(ops) > 1 and any("(" in op for op in ops[:-1])]
    # a broadcast load, or an AVX-512 operand broadcast from memory: (%rax){1to16}
    broadcasts = [m for m, ops in loads if m.startswith("vbroadcast")
                  or any("{1to" in op for op in ops)]
    stores = [m for m, ops in vector if len(ops) > 1 and "(" in ops[-1]]
    return LoopSummary(function, first + 1, len(ins), _width(ins), sum(_is_fma(m) for m, _ in ins),
                       len(loads), len(stores), len(broadcasts))


def _operands(text: str) -> list[str]:
    """AT&T operands, split at the commas outside a memory reference's parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()] if current.strip() else parts


def _is_fma(mnemonic: str) -> bool:
    return mnemonic.startswith(("vfmadd", "vfmsub", "vfnmadd", "vfnmsub"))


def _width(instructions) -> str:
    used = " ".join(ops for _m, ops in instructions)
    return next((w for w in _WIDTHS if f"%{w}" in used), "scalar")
