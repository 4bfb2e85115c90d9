package ccl

// tokenKind is the kind of a lexical token.
type tokenKind int

const (
	tEOF tokenKind = iota
	tIdent
	tInt    // decimal digits, with optional _ between them
	tString // "..." with \" \\ \n \t escapes
	tDID    // did:method:id

	// keywords
	tConst
	tFn
	tPolicy
	tLet
	tIf
	tElse
	tWhile
	tFor
	tIn
	tReturn
	tRequire
	tTrue
	tFalse

	// operators and punctuation
	tPlus     // +
	tMinus    // -
	tStar     // *
	tSlash    // /
	tPercent  // %
	tEq       // ==
	tNe       // !=
	tLt       // <
	tLe       // <=
	tGt       // >
	tGe       // >=
	tAndAnd   // &&
	tOrOr     // ||
	tNot      // !
	tAssign   // =
	tArrow    // ->
	tLParen   // (
	tRParen   // )
	tLBrace   // {
	tRBrace   // }
	tLBracket // [
	tRBracket // ]
	tComma    // ,
	tSemi     // ;
	tColon    // :
)

// keyword returns the keyword spelled s, if s is one.
func keyword(s string) (tokenKind, bool) {
	switch s {
	case "const":
		return tConst, true
	case "fn":
		return tFn, true
	case "policy":
		return tPolicy, true
	case "let":
		return tLet, true
	case "if":
		return tIf, true
	case "else":
		return tElse, true
	case "while":
		return tWhile, true
	case "for":
		return tFor, true
	case "in":
		return tIn, true
	case "return":
		return tReturn, true
	case "require":
		return tRequire, true
	case "true":
		return tTrue, true
	case "false":
		return tFalse, true
	}
	return tEOF, false
}

// String returns how the token reads in messages.
func (k tokenKind) String() string {
	switch k {
	case tEOF:
		return "end of file"
	case tIdent:
		return "identifier"
	case tInt:
		return "integer literal"
	case tString:
		return "string literal"
	case tDID:
		return "DID literal"
	}
	if sp := k.spelling(); sp != "" {
		return "'" + sp + "'"
	}
	return "token"
}

// spelling is how a keyword, operator or punctuation token is written.
func (k tokenKind) spelling() string {
	switch k {
	case tConst:
		return "const"
	case tFn:
		return "fn"
	case tPolicy:
		return "policy"
	case tLet:
		return "let"
	case tIf:
		return "if"
	case tElse:
		return "else"
	case tWhile:
		return "while"
	case tFor:
		return "for"
	case tIn:
		return "in"
	case tReturn:
		return "return"
	case tRequire:
		return "require"
	case tTrue:
		return "true"
	case tFalse:
		return "false"
	case tPlus:
		return "+"
	case tMinus:
		return "-"
	case tStar:
		return "*"
	case tSlash:
		return "/"
	case tPercent:
		return "%"
	case tEq:
		return "=="
	case tNe:
		return "!="
	case tLt:
		return "<"
	case tLe:
		return "<="
	case tGt:
		return ">"
	case tGe:
		return ">="
	case tAndAnd:
		return "&&"
	case tOrOr:
		return "||"
	case tNot:
		return "!"
	case tAssign:
		return "="
	case tArrow:
		return "->"
	case tLParen:
		return "("
	case tRParen:
		return ")"
	case tLBrace:
		return "{"
	case tRBrace:
		return "}"
	case tLBracket:
		return "["
	case tRBracket:
		return "]"
	case tComma:
		return ","
	case tSemi:
		return ";"
	case tColon:
		return ":"
	}
	return ""
}

// token is one lexical token. lit is the source text, except for string
// literals, where it is the decoded value.
type token struct {
	kind tokenKind
	pos  Pos
	end  Pos // just after the token
	lit  string
}
