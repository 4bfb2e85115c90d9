package fuel

// Host functions that do work in proportion to their arguments are called
// through a wrapper the rewriter adds: a function of the import's type that
// charges the work to the fuel, from the arguments only (and, for the iovec
// functions, the lengths in the iovec array they point to, as far as it
// lies in memory), then calls the import. Every reference to the import
// (call, ref.func, element segments, exports) names the wrapper instead,
// so an indirect call pays too. The charge is taken before the host
// function runs: a module that cannot pay traps without it running.

// wasiModule is the module name of WASI preview 1.
const wasiModule = "wasi_snapshot_preview1"

type termKind uint8

const (
	termBytes  termKind = iota // (u32 param a) >> n
	termCount                  // (u32 param a) * n
	termIOVecs                 // param a the iovec array, a+1 its length
)

type hostTerm struct {
	kind termKind
	a    int
	n    int64
}

type hostFunc struct {
	name   string
	params []ValueType // the result is always an i32 (the errno)
	terms  []hostTerm
}

func iovecs(a int) hostTerm    { return hostTerm{termIOVecs, a, 0} }
func pathBytes(a int) hostTerm { return hostTerm{termBytes, a, PathByteShift} }

// i32s returns n i32 parameters, with i64 at the positions given.
func i32s(n int, i64At ...int) []ValueType {
	p := make([]ValueType, n)
	for i := range p {
		p[i] = I32
	}
	for _, i := range i64At {
		p[i] = I64
	}
	return p
}

// hostFuncs are the wrapped functions of wasiModule, with the signature
// they must have to be wrapped (with another, they do not link).
var hostFuncs = []hostFunc{
	{"fd_write", i32s(4), []hostTerm{iovecs(1)}},
	{"fd_read", i32s(4), []hostTerm{iovecs(1)}},
	{"fd_pwrite", i32s(5, 3), []hostTerm{iovecs(1)}},
	{"fd_pread", i32s(5, 3), []hostTerm{iovecs(1)}},
	{"random_get", i32s(2), []hostTerm{{termBytes, 1, RandomByteShift}}},
	{"poll_oneoff", i32s(4), []hostTerm{{termCount, 2, CostSubscription}}},
	// The path functions read and clean the path before they look at the
	// directory descriptor, so they work in proportion to it even though a
	// job has no directory.
	{"path_create_directory", i32s(3), []hostTerm{pathBytes(2)}},
	{"path_filestat_get", i32s(5), []hostTerm{pathBytes(3)}},
	{"path_filestat_set_times", i32s(7, 4, 5), []hostTerm{pathBytes(3)}},
	{"path_link", i32s(7), []hostTerm{pathBytes(3), pathBytes(6)}},
	{"path_open", i32s(9, 5, 6), []hostTerm{pathBytes(3)}},
	{"path_readlink", i32s(6), []hostTerm{pathBytes(2)}},
	{"path_remove_directory", i32s(3), []hostTerm{pathBytes(2)}},
	{"path_rename", i32s(6), []hostTerm{pathBytes(2), pathBytes(5)}},
	{"path_symlink", i32s(5), []hostTerm{pathBytes(1), pathBytes(4)}},
	{"path_unlink_file", i32s(3), []hostTerm{pathBytes(2)}},
}

// lookupHostFunc returns the hostFuncs index of an imported function, or
// -1 when it is not wrapped.
func lookupHostFunc(im Import) int {
	if im.Module != wasiModule || len(im.Type.Results) != 1 || im.Type.Results[0] != I32 {
		return -1
	}
	for i, h := range hostFuncs {
		if h.name == im.Name && sameValueTypes(h.params, im.Type.Params) {
			return i
		}
	}
	return -1
}

func sameValueTypes(a, b []ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// appendHostWrapper appends the body of the wrapper of imported function
// imp (a hostFuncs entry h):
//
//	(func $wrap (param ...) (result i32) (local $c i64) (local $sum i64) (local $i i32)
//	  (local.set $c (global.get $chunk))
//	  ;; per term: (local.set $c (i64.sub (local.get $c) <charge>))
//	  ;; an iovec term charges its count, checks, then sums the lengths:
//	  ;;   (block (loop
//	  ;;     (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
//	  ;;     (br_if 1 (i64.gt_u <end of iovec $i> <memory size in bytes>))
//	  ;;     (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (i32.load offset=4 <iovec $i>))))
//	  ;;     (local.set $i (i32.add (local.get $i) (i32.const 1)))
//	  ;;     (br 0)))
//	  (if (i64.lt_s (local.get $c) (i64.const 0)) (then (local.set $c (call $refill (local.get $c)))))
//	  (global.set $chunk (local.get $c))
//	  (call $imp (local.get 0) ...))
//
// The caller stored its counter in the chunk before the call and reloads
// it after, as around any call.
func (w *rewriter) appendHostWrapper(payload []byte, imp uint32, h hostFunc) []byte {
	np := uint32(len(h.params))
	c, sum, i := np, np+1, np+2
	b := []byte{2, 2, byte(I64), 1, byte(I32)}
	b = appendU32(append(b, 0x23), w.g.chunk)
	b = appendU32(append(b, 0x21), c)
	sub := func(b []byte, charge func([]byte) []byte) []byte {
		b = appendU32(append(b, 0x20), c)
		b = charge(b)
		b = append(b, 0x7D) // i64.sub
		return appendU32(append(b, 0x21), c)
	}
	param := func(b []byte, p uint32) []byte {
		return append(appendU32(append(b, 0x20), p), 0xAD) // local.get p; i64.extend_i32_u
	}
	check := func(b []byte) []byte {
		b = appendU32(append(b, 0x20), c)
		b = append(b, 0x42, 0x00, 0x53, 0x04, 0x40) // i64.const 0; i64.lt_s; if
		b = appendU32(append(b, 0x20), c)
		b = appendU32(append(b, 0x10), w.g.refill)
		b = appendU32(append(b, 0x21), c)
		return append(b, 0x0B)
	}
	for _, t := range h.terms {
		a := uint32(t.a)
		switch t.kind {
		case termBytes:
			b = sub(b, func(b []byte) []byte {
				b = param(b, a)
				if t.n > 0 {
					b = appendS64(append(b, 0x42), t.n)
					b = append(b, 0x88) // i64.shr_u
				}
				return b
			})
		case termCount:
			b = sub(b, func(b []byte) []byte {
				b = param(b, a)
				b = appendS64(append(b, 0x42), t.n)
				return append(b, 0x7E) // i64.mul
			})
		case termIOVecs:
			ptr, n := a, a+1
			b = sub(b, func(b []byte) []byte {
				b = param(b, n)
				b = appendS64(append(b, 0x42), CostIOVec)
				return append(b, 0x7E)
			})
			b = check(b) // the loop below runs at most n times: paid for
			b = appendU32(append(b, 0x42, 0x00, 0x21), sum)
			b = appendU32(append(b, 0x41, 0x00, 0x21), i)
			b = append(b, 0x02, 0x40, 0x03, 0x40) // block loop
			b = appendU32(append(b, 0x20), i)
			b = appendU32(append(b, 0x20), n)
			b = append(b, 0x4F, 0x0D, 0x01) // i32.ge_u; br_if 1
			// ptr + 8i + 8 > memory bytes: the rest is out of memory (the
			// host function fails with EFAULT)
			b = param(b, ptr)
			b = param(b, i)
			b = append(b, 0x42, 0x03, 0x86, 0x7C, 0x42, 0x08, 0x7C) // i64.const 3; shl; add; i64.const 8; add
			b = append(b, 0x3F, 0x00, 0xAD, 0x42, 0x10, 0x86)       // memory.size; extend; i64.const 16; shl
			b = append(b, 0x56, 0x0D, 0x01)                         // i64.gt_u; br_if 1
			b = appendU32(append(b, 0x20), sum)
			b = appendU32(append(b, 0x20), ptr)
			b = appendU32(append(b, 0x20), i)
			b = append(b, 0x41, 0x03, 0x74, 0x6A) // i32.const 3; shl; add
			b = append(b, 0x28, 0x02, 0x04)       // i32.load align=4 offset=4
			b = append(b, 0xAD, 0x7C)             // extend; i64.add
			b = appendU32(append(b, 0x21), sum)
			b = appendU32(append(b, 0x20), i)
			b = append(b, 0x41, 0x01, 0x6A) // i32.const 1; add
			b = appendU32(append(b, 0x21), i)
			b = append(b, 0x0C, 0x00, 0x0B, 0x0B) // br 0 end end
			b = sub(b, func(b []byte) []byte {
				b = appendU32(append(b, 0x20), sum)
				b = appendS64(append(b, 0x42), BulkByteShift)
				return append(b, 0x88)
			})
		}
	}
	b = check(b)
	b = appendU32(append(b, 0x20), c)
	b = appendU32(append(b, 0x24), w.g.chunk)
	for p := range np {
		b = appendU32(append(b, 0x20), p)
	}
	b = appendU32(append(b, 0x10), imp)
	b = append(b, 0x0B)
	payload = appendU32(payload, uint32(len(b)))
	return append(payload, b...)
}
