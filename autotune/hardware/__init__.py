"""What the code runs on: targets and their keys, thread counts, measured and ISA peaks."""
