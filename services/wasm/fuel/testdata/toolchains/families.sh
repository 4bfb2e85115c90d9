#!/bin/sh
# Counts, for each module of this directory, the post-MVP instructions and
# a few MVP ones of interest in its disassembly (wasm2wat from Debian's
# wabt). README.md records the result.
set -eu
ops='memory\.(copy|fill|init|grow)|data\.drop|i(32|64)\.extend(8|16|32)_s|i(32|64)\.trunc(_sat)?_f(32|64)_[su]|call_indirect|br_table|table\.(get|set|size|grow|fill|copy|init)|elem\.drop|ref\.(null|func|is_null)'
for f in *.wasm; do
	echo "$f:"
	wasm2wat --enable-all "$f" | grep -oE "$ops" | sort | uniq -c
done
