package ccl_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/ccl"
)

// exprGen builds random Integer expressions together with the value Go
// computes for them under CCL's rules (checked arithmetic, left operand
// first), or the trap they must raise.
type exprGen struct {
	r    *rand.Rand
	vars []int64 // the parameters v0, v1, v2
}

// result is a value, or the first trap.
type result struct {
	v    int64
	trap ccl.TrapCode
}

var interesting = []int64{0, 1, -1, 2, 3, 7, -7, 1000, math.MaxInt64, math.MinInt64, math.MaxInt64 / 2, math.MinInt64 / 2,
	3037000499, 3037000500, -3037000500, 1 << 32}

func (g *exprGen) leaf() (string, result) {
	switch g.r.IntN(3) {
	case 0:
		i := g.r.IntN(len(g.vars))
		return fmt.Sprintf("v%d", i), result{v: g.vars[i]}
	case 1:
		v := interesting[g.r.IntN(len(interesting))]
		if v == math.MinInt64 {
			return "(-9223372036854775807 - 1)", result{v: v}
		}
		if v < 0 {
			return fmt.Sprintf("(%d)", v), result{v: v}
		}
		return fmt.Sprint(v), result{v: v}
	}
	v := g.r.Int64N(200) - 100
	return fmt.Sprintf("(%d)", v), result{v: v}
}

func (g *exprGen) expr(depth int) (string, result) {
	if depth == 0 || g.r.IntN(4) == 0 {
		return g.leaf()
	}
	if g.r.IntN(8) == 0 {
		s, x := g.expr(depth - 1)
		if x.trap != 0 {
			return "-(" + s + ")", x
		}
		if x.v == math.MinInt64 {
			return "-(" + s + ")", result{trap: ccl.TrapOverflow}
		}
		return "-(" + s + ")", result{v: -x.v}
	}
	if g.r.IntN(6) == 0 { // a conditional through a helper: if cond { a } else { b }
		cs, c := g.expr(depth - 1)
		as, a := g.expr(depth - 1)
		bs, b := g.expr(depth - 1)
		s := fmt.Sprintf("pick(%s > 0, %s, %s)", cs, as, bs)
		switch {
		case c.trap != 0:
			return s, c
		case a.trap != 0:
			return s, a
		case b.trap != 0:
			return s, b
		case c.v > 0:
			return s, a
		}
		return s, b
	}
	ops := []string{"+", "-", "*", "/", "%"}
	op := ops[g.r.IntN(len(ops))]
	xs, x := g.expr(depth - 1)
	ys, y := g.expr(depth - 1)
	s := "(" + xs + " " + op + " " + ys + ")"
	if x.trap != 0 {
		return s, x
	}
	if y.trap != 0 {
		return s, y
	}
	return s, apply(op, x.v, y.v)
}

func apply(op string, a, b int64) result {
	overflow := result{trap: ccl.TrapOverflow}
	switch op {
	case "+":
		r := a + b
		if (a > 0 && b > 0 && r < 0) || (a < 0 && b < 0 && r >= 0) {
			return overflow
		}
		return result{v: r}
	case "-":
		r := a - b
		if (a >= 0 && b < 0 && r < 0) || (a < 0 && b > 0 && r >= 0) {
			return overflow
		}
		return result{v: r}
	case "*":
		if a == 0 || b == 0 {
			return result{}
		}
		r := a * b
		if r/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
			return overflow
		}
		return result{v: r}
	case "/":
		if b == 0 {
			return result{trap: ccl.TrapDivideByZero}
		}
		if a == math.MinInt64 && b == -1 {
			return overflow
		}
		return result{v: a / b}
	}
	if b == 0 {
		return result{trap: ccl.TrapDivideByZero}
	}
	if b == -1 {
		return result{}
	}
	return result{v: a % b}
}

// TestArithmeticAgainstGo compares compiled arithmetic with Go's on
// random expressions over boundary values: the same value, or the same
// trap.
func TestArithmeticAgainstGo(t *testing.T) {
	e := newEngine(t)
	r := rand.New(rand.NewPCG(1, 2))
	traps := map[ccl.TrapCode]int{}
	for i := range 40 {
		g := &exprGen{r: r}
		var fns []string
		var want []result
		for range 3 {
			g.vars = append(g.vars, interesting[r.IntN(len(interesting))])
		}
		for j := range 8 {
			s, res := g.expr(4)
			fns = append(fns, fmt.Sprintf("policy e%d(v0: Integer, v1: Integer, v2: Integer) -> Integer {\n\treturn %s;\n}", j, s))
			want = append(want, res)
		}
		src := "fn pick(c: Bool, a: Integer, b: Integer) -> Integer { if c { return a; } return b; }\n" + strings.Join(fns, "\n")
		out := mustCompile(t, src)
		for j, w := range want {
			res, err := call(t, e, out, nil, fmt.Sprintf("e%d", j), uint64(g.vars[0]), uint64(g.vars[1]), uint64(g.vars[2]))
			code, _, trapped := trapOf(err)
			switch {
			case w.trap != 0:
				traps[w.trap]++
				if code != w.trap {
					t.Fatalf("program %d, e%d: got %v %v, want trap %s\n%s", i, j, res.Results, err, w.trap, fns[j])
				}
			case err != nil || trapped:
				t.Fatalf("program %d, e%d: %v, want %d\n%s", i, j, err, w.v, fns[j])
			case int64(res.Results[0]) != w.v:
				t.Fatalf("program %d, e%d = %d, want %d\n%s", i, j, int64(res.Results[0]), w.v, fns[j])
			}
		}
	}
	if traps[ccl.TrapOverflow] == 0 || traps[ccl.TrapDivideByZero] == 0 {
		t.Errorf("the random expressions hit too few traps: %v", traps)
	}
	t.Logf("traps: %v", traps)
}
