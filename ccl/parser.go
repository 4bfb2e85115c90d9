package ccl

import (
	"math"
	"strconv"
	"strings"
)

// maxNesting bounds the nesting of expressions and blocks, so that no
// input exhausts the stack of the parser, the checker or the generator.
const maxNesting = 200

// parser is a recursive-descent parser with one token of lookahead. A
// syntax error abandons the declaration it is in (bailout) and parsing
// resumes at the next declaration keyword.
type parser struct {
	lx         *lexer
	tok        token // the current token
	prev       token // the token before it
	errs       ErrorList
	depth      int
	recovering bool // skipping to the next declaration
}

// bailout is the panic value that abandons a declaration; parseDecl
// recovers it. No other panic is recovered.
type bailout struct{}

// parse parses a whole source file. The errors are in source order.
func parse(filename string, src []byte) (*file, ErrorList) {
	p := &parser{}
	p.lx = newLexer(filename, src, p.lexError)
	p.recovering = true // not inside a declaration yet
	p.next()
	p.recovering = false
	f := &file{filename: filename}
	for p.tok.kind != tEOF {
		p.decl(f)
	}
	return f, p.errs.sorted()
}

// addError records an error; a second error at the same place is dropped
// (it is almost always a consequence of the first).
func (p *parser) addError(pos Pos, msg string) {
	for _, e := range p.errs {
		if e.Pos.Offset == pos.Offset {
			return
		}
	}
	p.errs = append(p.errs, &Error{Pos: pos, Msg: msg})
}

// lexError records a malformed token and abandons the declaration: what
// the parser would say next is a consequence.
func (p *parser) lexError(pos Pos, msg string) {
	p.addError(pos, msg)
	if !p.recovering {
		panic(bailout{})
	}
}

// fail records an error and abandons the current declaration.
func (p *parser) fail(pos Pos, msg string) {
	p.addError(pos, msg)
	panic(bailout{})
}

func (p *parser) next() {
	p.prev = p.tok
	p.tok = p.lx.next()
}

// describe names the current token in a message.
func (p *parser) describe() string {
	switch p.tok.kind {
	case tIdent:
		return "identifier " + p.tok.lit
	case tInt:
		return "integer " + p.tok.lit
	case tString:
		return "string literal"
	case tDID:
		return "DID literal"
	}
	return p.tok.kind.String()
}

// expect consumes a token of kind k, or fails. A missing ';' is reported
// just after the token before, where it belongs.
func (p *parser) expect(k tokenKind, context string) token {
	if p.tok.kind != k {
		msg := "expected " + k.String()
		if context != "" {
			msg += " " + context
		}
		msg += ", found " + p.describe()
		if k == tSemi && p.prev.end.IsValid() {
			p.fail(p.prev.end, msg)
		}
		p.fail(p.tok.pos, msg)
	}
	t := p.tok
	p.next()
	return t
}

func (p *parser) got(k tokenKind) bool {
	if p.tok.kind == k {
		p.next()
		return true
	}
	return false
}

func (p *parser) nest() {
	p.depth++
	if p.depth > maxNesting {
		p.fail(p.tok.pos, "nested too deeply (more than "+strconv.Itoa(maxNesting)+" levels)")
	}
}

func (p *parser) unnest() { p.depth-- }

// decl parses one declaration; after a syntax error it skips to the next
// declaration keyword.
func (p *parser) decl(f *file) {
	begin := p.tok.pos.Offset
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			p.depth = 0
			p.recovering = true
			if p.tok.pos.Offset == begin {
				p.next() // make progress
			}
			for p.tok.kind != tEOF && p.tok.kind != tConst && p.tok.kind != tFn && p.tok.kind != tPolicy {
				p.next()
			}
			p.recovering = false
		}
	}()
	switch p.tok.kind {
	case tConst:
		c := &constDecl{pos: p.tok.pos}
		p.next()
		name := p.expect(tIdent, "after 'const'")
		c.name, c.npos = name.lit, name.pos
		p.expect(tColon, "and a type after the constant's name")
		c.typ = p.typeExpr()
		p.expect(tAssign, "after the constant's type")
		c.value = p.expr()
		p.expect(tSemi, "after the constant declaration")
		f.consts = append(f.consts, c)
		f.order = append(f.order, c)
	case tFn, tPolicy:
		fd := &funcDecl{pos: p.tok.pos, policy: p.tok.kind == tPolicy}
		kw := p.tok.kind.String()
		p.next()
		name := p.expect(tIdent, "after "+kw)
		fd.name, fd.npos = name.lit, name.pos
		p.expect(tLParen, "after the function's name")
		for p.tok.kind != tRParen {
			pn := p.expect(tIdent, "(a parameter name)")
			p.expect(tColon, "and a type after the parameter's name")
			fd.params = append(fd.params, &param{pos: pn.pos, name: pn.lit, typ: p.typeExpr()})
			if !p.got(tComma) {
				break
			}
		}
		p.expect(tRParen, "after the parameters")
		p.expect(tArrow, "and a result type after the parameters")
		fd.result = p.typeExpr()
		fd.body = p.block()
		f.funcs = append(f.funcs, fd)
		f.order = append(f.order, fd)
	default:
		p.fail(p.tok.pos, "expected 'const', 'fn' or 'policy', found "+p.describe())
	}
}

func (p *parser) typeExpr() *typeExpr {
	t := p.expect(tIdent, "(a type)")
	te := &typeExpr{pos: t.pos, name: t.lit}
	if t.lit == "Array" {
		p.expect(tLt, "after Array")
		te.elem = p.typeExpr()
		p.expect(tGt, "after the array's element type")
	}
	return te
}

func (p *parser) block() *block {
	p.nest()
	defer p.unnest()
	b := &block{pos: p.expect(tLBrace, "").pos}
	for p.tok.kind != tRBrace && p.tok.kind != tEOF {
		if k := p.tok.kind; k == tFn || k == tPolicy || k == tConst {
			break // a declaration: the block was not closed
		}
		b.stmts = append(b.stmts, p.stmt())
	}
	b.end = p.expect(tRBrace, "to close the block").pos
	return b
}

func (p *parser) stmt() stmt {
	pos := p.tok.pos
	switch p.tok.kind {
	case tLet:
		p.next()
		name := p.expect(tIdent, "after 'let'")
		s := &letStmt{pos: pos, name: name.lit, npos: name.pos}
		if p.got(tColon) {
			s.typ = p.typeExpr()
		}
		p.expect(tAssign, "in the let statement")
		s.value = p.expr()
		p.expect(tSemi, "after the let statement")
		return s
	case tIf:
		return p.ifStmt()
	case tWhile:
		p.next()
		s := &whileStmt{pos: pos, cond: p.expr()}
		s.body = p.block()
		return s
	case tFor:
		p.next()
		name := p.expect(tIdent, "after 'for'")
		p.expect(tIn, "after the loop variable")
		s := &forStmt{pos: pos, name: name.lit, npos: name.pos, iter: p.expr()}
		s.body = p.block()
		return s
	case tReturn:
		p.next()
		s := &returnStmt{pos: pos, value: p.expr()}
		p.expect(tSemi, "after the return statement")
		return s
	case tRequire:
		p.next()
		p.expect(tLParen, "after 'require'")
		s := &requireStmt{pos: pos, cond: p.expr()}
		if p.got(tComma) {
			s.msg = p.expr()
		}
		p.expect(tRParen, "after the arguments of require")
		p.expect(tSemi, "after the require statement")
		return s
	case tLBrace:
		return p.block()
	}
	x := p.expr()
	if id, ok := x.(*ident); ok && p.tok.kind == tAssign {
		p.next()
		s := &assignStmt{pos: id.pos, name: id.name, value: p.expr()}
		p.expect(tSemi, "after the assignment")
		return s
	}
	if p.tok.kind == tAssign {
		p.fail(p.tok.pos, "cannot assign to this expression: only a variable can be assigned")
	}
	call, ok := x.(*callExpr)
	if !ok {
		p.fail(start(x), "this expression is not a statement (only a call can be used as one)")
	}
	p.expect(tSemi, "after the call")
	return &exprStmt{call: call}
}

func (p *parser) ifStmt() *ifStmt {
	p.nest()
	defer p.unnest()
	s := &ifStmt{pos: p.expect(tIf, "").pos}
	s.cond = p.expr()
	s.then = p.block()
	if p.got(tElse) {
		if p.tok.kind == tIf {
			s.els = p.ifStmt()
		} else {
			s.els = p.block()
		}
	}
	return s
}

// precedence of binary operators; 0 for anything else.
func precedence(k tokenKind) int {
	switch k {
	case tOrOr:
		return 1
	case tAndAnd:
		return 2
	case tEq, tNe:
		return 3
	case tLt, tLe, tGt, tGe:
		return 4
	case tPlus, tMinus:
		return 5
	case tStar, tSlash, tPercent:
		return 6
	}
	return 0
}

func (p *parser) expr() expr { return p.binary(1) }

func (p *parser) binary(prec int) expr {
	x := p.unary()
	for {
		q := precedence(p.tok.kind)
		if q == 0 || q < prec {
			return x
		}
		op := p.tok
		p.next()
		p.nest()
		y := p.binary(q + 1)
		p.unnest()
		x = &binaryExpr{exprBase: exprBase{pos: op.pos}, op: op.kind, x: x, y: y}
	}
}

func (p *parser) unary() expr {
	if p.tok.kind == tMinus || p.tok.kind == tNot {
		op := p.tok
		p.next()
		p.nest()
		defer p.unnest()
		return &unaryExpr{exprBase: exprBase{pos: op.pos}, op: op.kind, x: p.unary()}
	}
	return p.postfix()
}

func (p *parser) postfix() expr {
	x := p.primary()
	for p.tok.kind == tLBracket {
		pos := p.tok.pos
		p.next()
		p.nest()
		i := p.expr()
		p.unnest()
		p.expect(tRBracket, "after the index")
		x = &indexExpr{exprBase: exprBase{pos: pos}, x: x, index: i}
	}
	return x
}

// durationUnit returns the seconds in a unit name.
func durationUnit(name string) (int64, bool) {
	switch name {
	case "second", "seconds":
		return 1, true
	case "minute", "minutes":
		return 60, true
	case "hour", "hours":
		return 3600, true
	case "day", "days":
		return 86400, true
	case "week", "weeks":
		return 7 * 86400, true
	}
	return 0, false
}

func (p *parser) primary() expr {
	t := p.tok
	base := exprBase{pos: t.pos}
	switch t.kind {
	case tInt:
		p.next()
		v, err := strconv.ParseUint(strings.ReplaceAll(t.lit, "_", ""), 10, 64)
		if err != nil || v > 1<<63 {
			p.addError(t.pos, "integer literal "+t.lit+" is too large for Integer")
			v = 0
		}
		if p.tok.kind == tIdent {
			if unit, ok := durationUnit(p.tok.lit); ok {
				text := t.lit + " " + p.tok.lit
				p.next()
				if v > uint64(math.MaxInt64/unit) {
					p.addError(t.pos, "duration "+text+" is too large")
					v = 0
				}
				return &durationLit{exprBase: base, text: text, val: int64(v) * unit}
			}
		}
		return &intLit{exprBase: base, text: t.lit, val: v}
	case tTrue, tFalse:
		p.next()
		return &boolLit{exprBase: base, val: t.kind == tTrue}
	case tString:
		p.next()
		return &stringLit{exprBase: base, val: t.lit}
	case tDID:
		p.next()
		return &didLit{exprBase: base, val: t.lit}
	case tIdent:
		p.next()
		if p.tok.kind != tLParen {
			return &ident{exprBase: base, name: t.lit}
		}
		p.next()
		c := &callExpr{exprBase: base, name: t.lit}
		p.nest()
		for p.tok.kind != tRParen {
			c.args = append(c.args, p.expr())
			if !p.got(tComma) {
				break
			}
		}
		p.unnest()
		p.expect(tRParen, "after the arguments")
		return c
	case tLParen:
		p.next()
		p.nest()
		x := p.expr()
		p.unnest()
		p.expect(tRParen, "to close the parenthesis")
		return x
	case tLBracket:
		p.next()
		a := &arrayLit{exprBase: base}
		p.nest()
		for p.tok.kind != tRBracket {
			a.elems = append(a.elems, p.expr())
			if !p.got(tComma) {
				break
			}
		}
		p.unnest()
		p.expect(tRBracket, "to close the array")
		return a
	}
	p.fail(t.pos, "expected an expression, found "+p.describe())
	return nil
}
