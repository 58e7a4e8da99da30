"""Workloads every implementation must get right: edge cases and unusual shapes."""

CASES = [
    ("conv2d", dict(c=4, h=6, w=6, k=4)),  # plain 3x3
    ("conv2d", dict(n=2, c=19, h=13, w=7, k=31, kh=5, kw=3, stride=(2, 1), padding=(2, 1),
                    dilation=(1, 2))),  # odd channels, non-square everything, batch 2
    ("conv2d", dict(c=8, h=9, w=7, k=8, groups=8, padding=1)),  # depthwise
    ("conv2d", dict(c=8, h=11, w=13, k=8, kw=5, groups=8, stride=(2, 3), padding=(1, 2),
                    dilation=(1, 2))),  # depthwise, rows read with stride 3 and dilation 2
    ("conv2d", dict(c=6, h=7, w=9, k=16, groups=2, padding=1, stride=(1, 2))),  # 8 a group
    ("conv2d", dict(c=6, h=5, w=11, k=9, kh=1, kw=5, groups=3, stride=3, dilation=2,
                    padding=(0, 2))),  # grouped, stride 3, dilation 2
    ("conv2d", dict(c=7, h=5, w=3, k=3, kh=1, kw=1)),  # 1x1, odd channels
    ("conv2d", dict(n=2, c=33, h=5, w=7, k=37, kh=1, kw=1)),  # 1x1, batch 2, prime channel counts
    ("conv2d", dict(c=12, h=3, w=5, k=8, kh=1, kw=1, groups=4)),  # grouped 1x1
    ("conv2d", dict(c=3, h=4, w=4, k=5, kh=4, kw=4)),  # kernel as large as the input
    ("conv2d", dict(c=2, h=2, w=3, k=2, kh=3, kw=3, padding=1, dtype="float16")),
    ("conv2d", dict(c=5, h=7, w=6, k=16, padding=1, epilogue="bias+relu6")),  # a network's conv
    ("conv2d", dict(c=8, h=5, w=5, k=8, groups=8, padding=1, epilogue="bias+add+relu")),
    ("conv2d", dict(c=4, h=5, w=4, k=6, kh=1, kw=1, epilogue="relu+bias")),  # steps in order
    ("conv2d", dict(c=6, h=6, w=7, k=12, padding=1, epilogue="bias+silu")),  # EfficientNet's
    ("conv2d", dict(c=5, h=6, w=5, k=8, groups=1, padding=1, stride=2,
                    epilogue="bias+hardswish")),  # MobileNetV3's
    ("gemm", dict(m=1, n=1, k=1)),
    ("gemm", dict(m=37, n=53, k=29)),
    ("gemm", dict(m=17, n=9, k=33, dtype="float16")),
    ("gemm", dict(m=37, n=45, k=40)),  # padded grid: 40 x 48
    ("add", dict(n=1)),
    ("add", dict(n=1001)),
    ("add", dict(n=64, dtype="float16")),
    ("fma", dict(n=77)),
    ("sum", dict(n=1)),
    ("sum", dict(n=100_003)),
    ("sum", dict(n=300, dtype="float16")),
    ("softmax", dict(m=1, n=1)),
    ("softmax", dict(m=5, n=33)),
    ("softmax", dict(m=2, n=64)),  # whole lane rows, no tail
    ("softmax", dict(m=3, n=17, dtype="float16")),
]
