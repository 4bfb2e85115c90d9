#!/bin/sh
# Rebuilds the committed modules of this directory from their sources with
# Debian bookworm's toolchains (see README.md):
#   apt-get install rustc libstd-rust-dev-wasm32 clang lld wasi-libc
# Run it from this directory. The binaries are committed, so the tests do
# not need these toolchains.
set -eu

RUSTC=/usr/bin/rustc # Debian's 1.63, not rustup's: it has the wasm32-wasi std
# +multivalue is left out: it makes rustc 1.63 (LLVM 14) crash with a
# segmentation fault.
FEATURES=+bulk-memory,+sign-ext,+nontrapping-fptoint,+mutable-globals,+reference-types

rust() { # output, flags...
	out=$1
	shift
	"$RUSTC" --edition 2021 --target wasm32-wasi "$@" -o "$out" rust.rs
}
rust rust-o2.wasm -C opt-level=2 -C strip=debuginfo
# Unoptimised code is different (five times the local traffic, six times
# the br_tables) and big: without its name section it is 390 KB.
rust rust-o0.wasm -C opt-level=0 -C strip=symbols
rust rust-o2-features.wasm -C opt-level=2 -C strip=debuginfo -C target-feature="$FEATURES"

CFLAGS="--target=wasm32-wasi --sysroot=/usr -Wall -Wl,--strip-debug"
# shellcheck disable=SC2086
clang $CFLAGS -O2 -o c-o2.wasm c.c
# shellcheck disable=SC2086
clang $CFLAGS -O2 -mbulk-memory -msign-ext -mnontrapping-fptoint -mmutable-globals -mmultivalue -mreference-types \
	-o c-o2-features.wasm c.c
# The multi-value ABI: functions return structs as several values. Only
# main's own code uses it; wasi-libc is built for the default ABI and
# passes no struct by value across the calls c.c makes.
# shellcheck disable=SC2086
clang $CFLAGS -O2 -mbulk-memory -msign-ext -mnontrapping-fptoint -mmultivalue -Xclang -target-abi -Xclang experimental-mv \
	-o c-o2-multivalue.wasm c.c
chmod 644 ./*.wasm
