package ccl

import (
	"fmt"
	"strings"
)

// checker resolves names and types, evaluates constants and checks that
// every function returns on every path. It reports every error it finds;
// an expression with an error has type Invalid, which matches anything, so
// one mistake is reported once.
type checker struct {
	errs    ErrorList
	hosts   []HostFunc
	consts  map[string]*constDecl // lookups only, never ranged over
	funcs   map[string]*funcDecl
	fn      *funcDecl              // the function being checked
	scopes  []map[string]*variable // innermost last
	inConst bool                   // checking a constant's value
}

func check(f *file) ErrorList {
	c := &checker{
		hosts:  HostFuncs(),
		consts: map[string]*constDecl{},
		funcs:  map[string]*funcDecl{},
	}
	c.declare(f)
	for _, fd := range f.funcs {
		c.signature(fd)
	}
	for _, k := range f.consts {
		c.constDecl(k)
	}
	for _, fd := range f.funcs {
		c.funcDecl(fd)
	}
	return c.errs.sorted()
}

func (c *checker) errorf(pos Pos, format string, args ...any) {
	c.errs = append(c.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) host(name string) *HostFunc {
	for i := range c.hosts {
		if c.hosts[i].Name == name && !c.hosts[i].Internal {
			return &c.hosts[i]
		}
	}
	return nil
}

// declare enters the top-level names, in source order.
func (c *checker) declare(f *file) {
	prev := map[string]Pos{}
	for _, d := range f.order {
		var name string
		var pos Pos
		switch d := d.(type) {
		case *constDecl:
			name, pos = d.name, d.npos
		case *funcDecl:
			name, pos = d.name, d.npos
		}
		switch {
		case name == "len":
			c.errorf(pos, "cannot declare %s: it is a builtin function", name)
			continue
		case c.host(name) != nil:
			c.errorf(pos, "cannot declare %s: it is a host function", name)
			continue
		case strings.HasPrefix(name, "__icn_"):
			c.errorf(pos, "cannot declare %s: names starting with __icn_ are reserved", name)
			continue
		}
		if p, dup := prev[name]; dup {
			c.errorf(pos, "%s is already declared (at %s)", name, p)
			continue
		}
		prev[name] = pos
		switch d := d.(type) {
		case *constDecl:
			c.consts[name] = d
		case *funcDecl:
			c.funcs[name] = d
		}
	}
}

// resolve turns a written type into a Type, or reports it.
func (c *checker) resolve(t *typeExpr) Type {
	if t.name == "Array" {
		e := c.resolve(t.elem)
		if e == Invalid {
			return Invalid
		}
		if a := arrayOf(e); a != Invalid {
			return a
		}
		c.errorf(t.elem.pos, "arrays hold Integer or Did values, not %s", e)
		return Invalid
	}
	if t.elem != nil {
		c.errorf(t.pos, "%s takes no type parameter", t.name)
		return Invalid
	}
	if ty, ok := lookupType(t.name); ok {
		return ty
	}
	c.errorf(t.pos, "unknown type %s", t.name)
	return Invalid
}

func (c *checker) constDecl(k *constDecl) {
	t := c.resolve(k.typ)
	c.inConst = true
	got := c.expr(k.value, t)
	c.inConst = false
	k.t, k.checked = t, true
	if !c.assignable(got, k.t) {
		c.errorf(start(k.value), "cannot use %s value as %s in the declaration of constant %s", article(got), k.t, k.name)
		return
	}
	if got == Invalid || k.t == Invalid {
		return
	}
	k.val, k.ok = c.eval(k.value)
}

// signature resolves a function's parameter and result types, before any
// body is checked: a body may call a function declared after it.
func (c *checker) signature(fd *funcDecl) {
	for _, p := range fd.params {
		p.t = c.resolve(p.typ)
	}
	fd.rt = c.resolve(fd.result)
}

func (c *checker) funcDecl(fd *funcDecl) {
	c.fn = fd
	c.scopes = []map[string]*variable{{}}
	defer func() { c.fn, c.scopes = nil, nil }()
	var params []Type
	for _, p := range fd.params {
		params = append(params, p.t)
		p.v = c.declareVar(p.name, p.pos, p.t)
	}
	fd.export = fd.policy || fd.name == "run"
	if fd.name == "run" && (len(params) != 0 || fd.rt != Integer) {
		c.errorf(fd.npos, "run must be declared fn run() -> Integer")
	}
	if fd.export {
		c.checkExport(fd, params)
	}
	c.block(fd.body, false)
	if !terminates(fd.body) && fd.rt != Invalid {
		c.errorf(fd.body.end, "missing return: %s must return %s on every path", fd.name, article(fd.rt))
	}
}

// checkExport checks an exported function's signature against the ABI
// and, for a known entry point, against its required signature.
func (c *checker) checkExport(fd *funcDecl, params []Type) {
	for i, t := range params {
		if t.isArray() {
			c.errorf(fd.params[i].typ.pos, "an exported function cannot take %s (only Integer, Bool, Timestamp, Duration, Did or String)", t)
		}
	}
	if fd.rt.isArray() {
		c.errorf(fd.result.pos, "an exported function cannot return %s (only Integer, Bool, Timestamp, Duration, Did or String)", fd.rt)
	}
	for _, ep := range EntryPoints() {
		if ep.Name != fd.name || ep.Name == "run" {
			continue
		}
		ok := fd.rt == ep.Result && len(params) == len(ep.Params)
		for i := 0; ok && i < len(params); i++ {
			ok = params[i] == ep.Params[i]
		}
		if !ok {
			c.errorf(fd.npos, "entry point %s must be declared %s", ep.Name, signature(ep.Params, ep.Result))
		}
	}
}

// signature formats a signature in messages: (Integer, Did) -> Bool.
func signature(params []Type, result Type) string {
	s := make([]string, len(params))
	for i, p := range params {
		s[i] = p.String()
	}
	return "(" + strings.Join(s, ", ") + ") -> " + result.String()
}

// lookupVar finds a variable in the enclosing scopes of the function.
func (c *checker) lookupVar(name string) *variable {
	for i := len(c.scopes) - 1; i >= 0; i-- {
		if v, ok := c.scopes[i][name]; ok {
			return v
		}
	}
	return nil
}

// declareVar adds a variable to the innermost scope. A name already
// visible (a variable of an enclosing scope, a parameter or a constant)
// cannot be declared again: CCL has no shadowing.
func (c *checker) declareVar(name string, pos Pos, t Type) *variable {
	if v := c.lookupVar(name); v != nil {
		c.errorf(pos, "%s is already declared (at %s); a name cannot be declared again in its scope", name, v.pos)
	} else if k, ok := c.consts[name]; ok {
		c.errorf(pos, "%s is already declared as a constant (at %s); a name cannot be declared again in its scope", name, k.npos)
	}
	v := &variable{name: name, pos: pos, t: t, index: len(c.fn.vars)}
	c.fn.vars = append(c.fn.vars, v)
	c.scopes[len(c.scopes)-1][name] = v
	return v
}

// block checks a block; scoped is false for a function's body, whose scope
// is the parameters'.
func (c *checker) block(b *block, scoped bool) {
	if scoped {
		c.scopes = append(c.scopes, map[string]*variable{})
		defer func() { c.scopes = c.scopes[:len(c.scopes)-1] }()
	}
	for _, s := range b.stmts {
		c.stmt(s)
	}
}

func (c *checker) cond(e expr, what string) {
	if t := c.expr(e, Bool); t != Bool && t != Invalid {
		c.errorf(start(e), "the condition of %s must be Bool, not %s", what, t)
	}
}

func (c *checker) stmt(s stmt) {
	switch s := s.(type) {
	case *block:
		c.block(s, true)
	case *letStmt:
		want := Invalid
		if s.typ != nil {
			want = c.resolve(s.typ)
		}
		got := c.expr(s.value, want)
		t := got
		if s.typ != nil {
			t = want
			if !c.assignable(got, want) {
				c.errorf(start(s.value), "cannot use %s value as %s in the declaration of %s", article(got), want, s.name)
			}
		}
		s.v = c.declareVar(s.name, s.npos, t)
	case *assignStmt:
		got := c.expr(s.value, Invalid)
		v := c.lookupVar(s.name)
		if v == nil {
			if _, ok := c.consts[s.name]; ok {
				c.errorf(s.pos, "cannot assign to %s: it is a constant", s.name)
			} else {
				c.errorf(s.pos, "unknown name %s (declare it with let)", s.name)
			}
			return
		}
		s.v = v
		if !c.assignable(got, v.t) {
			c.errorf(start(s.value), "cannot assign %s value to %s, which is %s", article(got), s.name, v.t)
		}
	case *ifStmt:
		c.cond(s.cond, "if")
		c.block(s.then, true)
		if s.els != nil {
			c.stmt(s.els)
		}
	case *whileStmt:
		c.cond(s.cond, "while")
		c.block(s.body, true)
	case *forStmt:
		t := c.expr(s.iter, Invalid)
		elem := Invalid
		if t.isArray() {
			elem = t.elem()
		} else if t != Invalid {
			c.errorf(start(s.iter), "for ... in needs an array, not %s", t)
		}
		c.scopes = append(c.scopes, map[string]*variable{})
		s.v = c.declareVar(s.name, s.npos, elem)
		c.block(s.body, true)
		c.scopes = c.scopes[:len(c.scopes)-1]
	case *returnStmt:
		got := c.expr(s.value, c.fn.rt)
		if !c.assignable(got, c.fn.rt) {
			c.errorf(start(s.value), "wrong return type: %s returns %s, not %s", c.fn.name, c.fn.rt, got)
		}
	case *requireStmt:
		c.cond(s.cond, "require")
		if s.msg != nil {
			if t := c.expr(s.msg, String); t != String && t != Invalid {
				c.errorf(start(s.msg), "the message of require must be a String, not %s", t)
			}
		}
	case *exprStmt:
		c.expr(s.call, Invalid)
	}
}

// terminates reports whether control never reaches the end of s: it
// returns, or loops forever (while true), on every path.
func terminates(s stmt) bool {
	switch s := s.(type) {
	case *returnStmt:
		return true
	case *block:
		for _, x := range s.stmts {
			if terminates(x) {
				return true
			}
		}
	case *ifStmt:
		return s.els != nil && terminates(s.then) && terminates(s.els)
	case *whileStmt:
		b, ok := s.cond.(*boolLit)
		return ok && b.val
	}
	return false
}

// article returns the type's name after "a" or "an".
func article(t Type) string {
	s := t.String()
	if strings.ContainsRune("AEIOUaeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

func (c *checker) assignable(got, want Type) bool {
	return got == want || got == Invalid || want == Invalid
}

// expr checks an expression and records its type. want is the type the
// context expects, or Invalid; only an empty array literal uses it.
func (c *checker) expr(e expr, want Type) Type {
	t := c.expr1(e, want)
	e.setType(t)
	return t
}

func (c *checker) expr1(e expr, want Type) Type {
	switch e := e.(type) {
	case *ident:
		if v := c.lookupVar(e.name); v != nil {
			e.v = v
			return v.t
		}
		if k, ok := c.consts[e.name]; ok {
			if !k.checked {
				c.errorf(e.pos, "constant %s is used before its declaration (a constant may refer to earlier constants only)", e.name)
				return Invalid
			}
			e.c = k
			return k.t
		}
		if _, ok := c.funcs[e.name]; ok || c.host(e.name) != nil {
			c.errorf(e.pos, "%s is a function: call it, %s(...)", e.name, e.name)
			return Invalid
		}
		c.errorf(e.pos, "unknown name %s", e.name)
		return Invalid
	case *intLit:
		if e.val > 1<<63-1 {
			c.errorf(e.pos, "integer literal %s is too large for Integer", e.text)
			return Invalid
		}
		return Integer
	case *durationLit:
		return Duration
	case *boolLit:
		return Bool
	case *stringLit:
		return String
	case *didLit:
		return Did
	case *arrayLit:
		return c.arrayLit(e, want)
	case *unaryExpr:
		if lit, ok := e.x.(*intLit); ok && e.op == tMinus && lit.val == 1<<63 {
			lit.t = Integer // -9223372036854775808: the one literal past MaxInt64
			return Integer
		}
		return c.unary(e)
	case *binaryExpr:
		return c.binary(e)
	case *callExpr:
		return c.call(e)
	case *indexExpr:
		t := c.expr(e.x, Invalid)
		it := c.expr(e.index, Integer)
		if it != Integer && it != Invalid {
			c.errorf(start(e.index), "an array index must be Integer, not %s", it)
		}
		if t == Invalid {
			return Invalid
		}
		if !t.isArray() {
			c.errorf(e.pos, "cannot index %s (only arrays)", article(t))
			return Invalid
		}
		return t.elem()
	}
	return Invalid
}

func (c *checker) arrayLit(e *arrayLit, want Type) Type {
	if len(e.elems) == 0 {
		if want.isArray() {
			return want
		}
		c.errorf(e.pos, "cannot tell the type of an empty array: declare it, e.g. let a: Array<Integer> = [];")
		return Invalid
	}
	var elem Type
	for _, x := range e.elems {
		t := c.expr(x, want.elem())
		switch {
		case t == Invalid:
			return Invalid
		case elem == Invalid:
			elem = t
			if arrayOf(t) == Invalid {
				c.errorf(start(x), "arrays hold Integer or Did values, not %s", t)
				return Invalid
			}
		case t != elem:
			c.errorf(start(x), "array elements must all have one type: this one is %s, the first is %s", t, elem)
			return Invalid
		}
	}
	return arrayOf(elem)
}

func (c *checker) unary(e *unaryExpr) Type {
	t := c.expr(e.x, Invalid)
	if t == Invalid {
		return Invalid
	}
	switch {
	case e.op == tNot && t == Bool:
		return Bool
	case e.op == tMinus && (t == Integer || t == Duration):
		return t
	}
	c.errorf(e.pos, "invalid operation: %s%s (operator not defined on %s)", e.op.spelling(), t, t)
	return Invalid
}

// binaryResult is the type of x op y, or Invalid when the operator is not
// defined on those types.
func binaryResult(op tokenKind, x, y Type) Type {
	I, T, D := Integer, Timestamp, Duration
	switch op {
	case tPlus:
		switch {
		case x == I && y == I, x == D && y == D:
			return x
		case x == T && y == D, x == D && y == T:
			return T
		}
	case tMinus:
		switch {
		case x == I && y == I, x == D && y == D, x == T && y == D:
			return x
		case x == T && y == T:
			return D
		}
	case tStar:
		switch {
		case x == I && y == I:
			return I
		case x == D && y == I, x == I && y == D:
			return D
		}
	case tSlash:
		switch {
		case x == I && y == I, x == D && y == D, x == T && y == D:
			return I
		case x == D && y == I:
			return D
		}
	case tPercent:
		switch {
		case x == I && y == I:
			return I
		case x == D && y == D, x == T && y == D:
			return D
		}
	case tLt, tLe, tGt, tGe:
		if x == y && x.isI64() {
			return Bool
		}
	case tEq, tNe:
		if x == y && !x.isArray() {
			return Bool
		}
	case tAndAnd, tOrOr:
		if x == Bool && y == Bool {
			return Bool
		}
	}
	return Invalid
}

func (c *checker) binary(e *binaryExpr) Type {
	x := c.expr(e.x, Invalid)
	y := c.expr(e.y, Invalid)
	if x == Invalid || y == Invalid {
		return Invalid
	}
	if t := binaryResult(e.op, x, y); t != Invalid {
		return t
	}
	op := e.op.spelling()
	switch {
	case e.op == tPlus && x == Timestamp && y == Timestamp:
		c.errorf(e.pos, "invalid operation: Timestamp + Timestamp (add a Duration to a Timestamp, or subtract two Timestamps to get a Duration)")
	case (e.op == tEq || e.op == tNe) && x == y:
		c.errorf(e.pos, "invalid operation: %s %s %s (arrays cannot be compared)", x, op, y)
	case x != y:
		c.errorf(e.pos, "invalid operation: %s %s %s (mismatched types)", x, op, y)
	default:
		c.errorf(e.pos, "invalid operation: %s %s %s (operator not defined on %s)", x, op, y, x)
	}
	return Invalid
}

func (c *checker) call(e *callExpr) Type {
	var params []Type
	var result Type
	switch {
	case e.name == "len":
		e.builtin = true
		if len(e.args) != 1 {
			c.errorf(e.pos, "len takes one argument, an array; got %d", len(e.args))
			c.exprs(e.args)
			return Integer
		}
		if t := c.expr(e.args[0], Invalid); t != Invalid && !t.isArray() {
			c.errorf(start(e.args[0]), "len needs an array, not %s", t)
		}
		return Integer
	case c.inConst:
		c.errorf(e.pos, "a constant's value cannot call %s: only literals, constants and operators are allowed", e.name)
		c.exprs(e.args)
		return Invalid
	case c.funcs[e.name] != nil:
		fd := c.funcs[e.name]
		e.fn = fd
		for _, p := range fd.params {
			params = append(params, p.t)
		}
		result = fd.rt
	case c.host(e.name) != nil:
		h := c.host(e.name)
		e.host = h
		params, result = h.Params, h.Result
	default:
		if c.lookupVar(e.name) != nil || c.consts[e.name] != nil {
			c.errorf(e.pos, "%s is not a function", e.name)
		} else {
			c.errorf(e.pos, "unknown function %s", e.name)
		}
		c.exprs(e.args)
		return Invalid
	}
	if len(e.args) != len(params) {
		c.errorf(e.pos, "%s takes %d arguments %s, got %d", e.name, len(params), signature(params, result), len(e.args))
		c.exprs(e.args)
		return result
	}
	for i, a := range e.args {
		if got := c.expr(a, params[i]); !c.assignable(got, params[i]) {
			c.errorf(start(a), "cannot use %s value as argument %d of %s, which is %s", article(got), i+1, e.name, params[i])
		}
	}
	return result
}

// exprs checks arguments that cannot be matched to parameters, for their
// own errors.
func (c *checker) exprs(es []expr) {
	for _, e := range es {
		c.expr(e, Invalid)
	}
}
