package ccl

import "math"

// constValue is the value of a constant, computed by the compiler.
type constValue struct {
	i    int64    // Integer, Timestamp, Duration; Bool as 0 or 1
	s    string   // Did, String
	ints []int64  // Array<Integer>
	strs []string // Array<Did>
}

// eval computes a constant expression that has been checked without
// error. Overflow, division by zero and an index out of bounds are compile
// errors here; ok is false after one (or when a constant it uses has no
// value).
func (c *checker) eval(e expr) (v constValue, ok bool) {
	switch e := e.(type) {
	case *ident:
		return e.c.val, e.c.ok
	case *intLit:
		return constValue{i: int64(e.val)}, true
	case *durationLit:
		return constValue{i: e.val}, true
	case *boolLit:
		return constValue{i: b2i(e.val)}, true
	case *stringLit:
		return constValue{s: e.val}, true
	case *didLit:
		return constValue{s: e.val}, true
	case *arrayLit:
		for _, x := range e.elems {
			xv, ok := c.eval(x)
			if !ok {
				return v, false
			}
			if e.t == ArrayDid {
				v.strs = append(v.strs, xv.s)
			} else {
				v.ints = append(v.ints, xv.i)
			}
		}
		if v.ints == nil && v.strs == nil {
			v.ints = []int64{} // empty, but known
		}
		return v, true
	case *unaryExpr:
		if lit, isLit := e.x.(*intLit); isLit && e.op == tMinus && lit.val == 1<<63 {
			return constValue{i: math.MinInt64}, true
		}
		x, ok := c.eval(e.x)
		if !ok {
			return v, false
		}
		if e.op == tNot {
			return constValue{i: 1 - x.i}, true
		}
		if x.i == math.MinInt64 {
			c.errorf(e.pos, "constant overflow: -(%d) is outside the range of Integer", x.i)
			return v, false
		}
		return constValue{i: -x.i}, true
	case *binaryExpr:
		return c.evalBinary(e)
	case *callExpr: // len: the only call a constant may make
		a, ok := c.eval(e.args[0])
		if !ok {
			return v, false
		}
		return constValue{i: int64(len(a.ints) + len(a.strs))}, true
	case *indexExpr:
		a, ok := c.eval(e.x)
		if !ok {
			return v, false
		}
		i, ok := c.eval(e.index)
		if !ok {
			return v, false
		}
		n := int64(len(a.ints) + len(a.strs))
		if i.i < 0 || i.i >= n {
			c.errorf(e.pos, "index %d out of bounds: the array has %d elements", i.i, n)
			return v, false
		}
		if a.strs != nil {
			return constValue{s: a.strs[i.i]}, true
		}
		return constValue{i: a.ints[i.i]}, true
	}
	return v, false
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (c *checker) evalBinary(e *binaryExpr) (constValue, bool) {
	x, ok := c.eval(e.x)
	if !ok {
		return x, false
	}
	if e.op == tAndAnd && x.i == 0 || e.op == tOrOr && x.i == 1 {
		return x, true // short-circuit, as at run time
	}
	y, ok := c.eval(e.y)
	if !ok {
		return y, false
	}
	a, b := x.i, y.i
	overflow := func() (constValue, bool) {
		c.errorf(e.pos, "constant overflow: %d %s %d is outside the range of Integer", a, e.op.spelling(), b)
		return constValue{}, false
	}
	var r int64
	switch e.op {
	case tAndAnd, tOrOr:
		return y, true
	case tPlus:
		r = a + b
		if (a^r)&(b^r) < 0 {
			return overflow()
		}
	case tMinus:
		r = a - b
		if (a^b)&(a^r) < 0 {
			return overflow()
		}
	case tStar:
		r = a * b
		if a == -1 && b == math.MinInt64 || b == -1 && a == math.MinInt64 || a != 0 && r/a != b {
			return overflow()
		}
	case tSlash, tPercent:
		if b == 0 {
			c.errorf(e.pos, "division by zero in a constant")
			return constValue{}, false
		}
		if e.op == tPercent {
			if b == -1 {
				return constValue{}, true
			}
			return constValue{i: a % b}, true
		}
		if a == math.MinInt64 && b == -1 {
			return overflow()
		}
		r = a / b
	case tEq, tNe:
		eq := a == b && x.s == y.s
		return constValue{i: b2i(eq == (e.op == tEq))}, true
	case tLt:
		r = b2i(a < b)
	case tLe:
		r = b2i(a <= b)
	case tGt:
		r = b2i(a > b)
	case tGe:
		r = b2i(a >= b)
	}
	return constValue{i: r}, true
}
