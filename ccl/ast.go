package ccl

// The syntax tree. The parser builds it; the checker fills in the types
// and the resolved names (the fields after "set by the checker"), which the
// code generator reads.

type file struct {
	filename string
	consts   []*constDecl
	funcs    []*funcDecl // fn and policy, in source order
	order    []any       // every declaration in source order
}

// typeExpr is a written type: a name, or Array<elem>.
type typeExpr struct {
	pos  Pos
	name string
	elem *typeExpr // for Array
}

type constDecl struct {
	pos   Pos // of 'const'
	name  string
	npos  Pos
	typ   *typeExpr
	value expr

	// set by the checker
	t       Type
	checked bool // t is known: later constants may use it
	val     constValue
	ok      bool // val is known
}

type funcDecl struct {
	pos    Pos // of 'fn' or 'policy'
	policy bool
	name   string
	npos   Pos
	params []*param
	result *typeExpr
	body   *block

	// set by the checker
	rt     Type
	vars   []*variable // parameters first, then every let and for variable
	export bool        // a policy, or fn run
}

type param struct {
	pos  Pos
	name string
	typ  *typeExpr

	// set by the checker
	t Type
	v *variable
}

// variable is a parameter or local variable; index is its position in
// funcDecl.vars.
type variable struct {
	name  string
	pos   Pos
	t     Type
	index int
}

// Statements.
type stmt interface{ stmtPos() Pos }

type block struct {
	pos   Pos // of '{'
	end   Pos // of '}'
	stmts []stmt
}

type letStmt struct {
	pos   Pos // of 'let'
	name  string
	npos  Pos
	typ   *typeExpr // nil when inferred
	value expr
	v     *variable
}

type assignStmt struct {
	pos   Pos // of the name
	name  string
	value expr
	v     *variable
}

type ifStmt struct {
	pos  Pos
	cond expr
	then *block
	els  stmt // nil, *block or *ifStmt
}

type whileStmt struct {
	pos  Pos
	cond expr
	body *block
}

type forStmt struct {
	pos  Pos
	name string
	npos Pos
	iter expr
	body *block
	v    *variable
}

type returnStmt struct {
	pos   Pos
	value expr
}

type requireStmt struct {
	pos  Pos
	cond expr
	msg  expr // nil without a message
}

// exprStmt is a call whose value is dropped.
type exprStmt struct {
	call *callExpr
}

func (s *block) stmtPos() Pos       { return s.pos }
func (s *letStmt) stmtPos() Pos     { return s.pos }
func (s *assignStmt) stmtPos() Pos  { return s.pos }
func (s *ifStmt) stmtPos() Pos      { return s.pos }
func (s *whileStmt) stmtPos() Pos   { return s.pos }
func (s *forStmt) stmtPos() Pos     { return s.pos }
func (s *returnStmt) stmtPos() Pos  { return s.pos }
func (s *requireStmt) stmtPos() Pos { return s.pos }
func (s *exprStmt) stmtPos() Pos    { return s.call.pos }

// Expressions. Every expression records its type once checked.
type expr interface {
	exprPos() Pos
	typ() Type
	setType(Type)
}

type exprBase struct {
	pos Pos
	t   Type // set by the checker
}

func (e *exprBase) exprPos() Pos   { return e.pos }
func (e *exprBase) typ() Type      { return e.t }
func (e *exprBase) setType(t Type) { e.t = t }

type ident struct {
	exprBase
	name string
	v    *variable  // a local or parameter, or
	c    *constDecl // a constant
}

type intLit struct {
	exprBase
	text string
	val  uint64 // may be 1<<63 under a unary minus
}

type durationLit struct {
	exprBase
	text string
	val  int64 // seconds
}

type boolLit struct {
	exprBase
	val bool
}

type stringLit struct {
	exprBase
	val string
}

type didLit struct {
	exprBase
	val string
}

type arrayLit struct {
	exprBase
	elems []expr
}

type unaryExpr struct {
	exprBase // pos of the operator
	op       tokenKind
	x        expr
}

type binaryExpr struct {
	exprBase // pos of the operator
	op       tokenKind
	x, y     expr
}

type callExpr struct {
	exprBase // pos of the name
	name     string
	args     []expr
	fn       *funcDecl // set by the checker: a fn, or
	host     *HostFunc // a host function, or
	builtin  bool      // len
}

type indexExpr struct {
	exprBase // pos of '['
	x, index expr
}

// start returns where an expression begins in the source.
func start(e expr) Pos {
	switch e := e.(type) {
	case *binaryExpr:
		return start(e.x)
	case *indexExpr:
		return start(e.x)
	}
	return e.exprPos()
}
