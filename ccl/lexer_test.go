package ccl

import (
	"fmt"
	"strings"
	"testing"
)

// lex returns "kind@line:col lit" for each token, then the errors.
func lex(src string) (toks []string, errs []string) {
	l := newLexer("l.ccl", []byte(src), func(p Pos, msg string) {
		errs = append(errs, fmt.Sprintf("%d:%d: %s", p.Line, p.Col, msg))
	})
	for {
		t := l.next()
		if t.kind == tEOF {
			return toks, errs
		}
		s := fmt.Sprintf("%s@%d:%d", t.kind, t.pos.Line, t.pos.Col)
		if t.kind == tIdent || t.kind == tInt || t.kind == tString || t.kind == tDID {
			s += " " + t.lit
		}
		toks = append(toks, s)
	}
}

func TestLexer(t *testing.T) {
	for _, tc := range []struct {
		src  string
		toks string // joined with ", "
		errs string // joined with "; "
	}{
		{"", "", ""},
		{"let x: Integer = 1_000;", "'let'@1:1, identifier@1:5 x, ':'@1:6, identifier@1:8 Integer, '='@1:16, integer literal@1:18 1_000, ';'@1:23", ""},
		{"a->b == c != d <= e >= f < g > h && i || !j", "identifier@1:1 a, '->'@1:2, identifier@1:4 b, '=='@1:6, identifier@1:9 c, '!='@1:11, " +
			"identifier@1:14 d, '<='@1:16, identifier@1:19 e, '>='@1:21, identifier@1:24 f, '<'@1:26, identifier@1:28 g, '>'@1:30, " +
			"identifier@1:32 h, '&&'@1:34, identifier@1:37 i, '||'@1:39, '!'@1:42, identifier@1:43 j", ""},
		{"x // comment\n\ty", "identifier@1:1 x, identifier@2:2 y", ""},
		{`"a\"b\\c\n\td"`, "string literal@1:1 a\"b\\c\n\td", ""},
		{"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "DID literal@1:1 did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", ""},
		{"did:web:example.com:user%20a;", "DID literal@1:1 did:web:example.com:user%20a, ';'@1:29", ""},
		{"did: Did", "identifier@1:1 did, ':'@1:4, identifier@1:6 Did", ""},
		{"did:Did", "identifier@1:1 did, ':'@1:4, identifier@1:5 Did", ""},
		{"7 days", "integer literal@1:1 7, identifier@1:3 days", ""},
		{"did:key:abc:", "DID literal@1:1 did:key:abc:", "1:1: malformed DID literal did:key:abc:: the id must not end with ':'"},
		{"did:key x", "DID literal@1:1 did:key, identifier@1:9 x", "1:1: malformed DID literal did:key: expected ':' after the method name"},
		{"did:key:a%2", "DID literal@1:1 did:key:a%2", "1:1: malformed DID literal did:key:a%2: '%' must be followed by two hex digits"},
		{"1__0 2_ 3x", "integer literal@1:1 1__0, integer literal@1:6 2_, integer literal@1:9 3, identifier@1:10 x",
			"1:1: malformed integer literal 1__0: '_' must separate digits; 1:6: malformed integer literal 2_: '_' must separate digits; " +
				"1:10: unexpected letter after integer literal 3 (a unit needs a space: 7 days)"},
		{"a # b & c | d", "identifier@1:1 a, identifier@1:5 b, identifier@1:9 c, identifier@1:13 d",
			"1:3: unexpected character '#'; 1:7: unexpected character '&'; 1:11: unexpected character '|'"},
		{"\"abc\ndef", "string literal@1:1 abc, identifier@2:1 def", "1:1: string literal not terminated"},
		{`"a\qb"`, "string literal@1:1 ab", `1:3: unknown escape sequence (use \" \\ \n or \t)`},
		{"x \xff y \x01", "identifier@1:1 x, identifier@1:5 y", "1:3: invalid UTF-8 byte; 1:7: unexpected character '\\x01'"},
		{"é", "", "1:1: unexpected character 'é'"},
	} {
		toks, errs := lex(tc.src)
		if got := strings.Join(toks, ", "); got != tc.toks {
			t.Errorf("%q: tokens\n%s\nwant\n%s", tc.src, got, tc.toks)
		}
		if got := strings.Join(errs, "; "); got != tc.errs {
			t.Errorf("%q: errors\n%s\nwant\n%s", tc.src, got, tc.errs)
		}
	}
}

// TestParseTree checks the shape the parser gives to precedence,
// associativity and the forms that need lookahead.
func TestParseTree(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"1 + 2 * 3 - 4", "((1 + (2 * 3)) - 4)"},
		{"a || b && c == d < e + f * -g", "(a || (b && (c == (d < (e + (f * (-g)))))))"},
		{"!a && !(b || c)", "((!a) && (!(b || c)))"},
		{"x[i + 1][0]", "x[(i + 1)][0]"},
		{"f(1, g(2), [3, 4],)", "f(1, g(2), [3, 4])"},
		{"7 days * 2", "(7 days * 2)"},
		{"-9223372036854775808", "(-9223372036854775808)"},
		{"did:key:z == \"s\"", "(did:key:z == \"s\")"},
	} {
		f, errs := parse("t.ccl", []byte("fn f() -> Integer { return "+tc.src+"; }"))
		if len(errs) > 0 {
			t.Errorf("%s: %v", tc.src, errs)
			continue
		}
		ret := f.funcs[0].body.stmts[0].(*returnStmt)
		if got := show(ret.value); got != tc.want {
			t.Errorf("%s: parsed as %s, want %s", tc.src, got, tc.want)
		}
	}
}

func show(e expr) string {
	switch e := e.(type) {
	case *ident:
		return e.name
	case *intLit:
		return e.text
	case *durationLit:
		return e.text
	case *boolLit:
		return fmt.Sprint(e.val)
	case *stringLit:
		return fmt.Sprintf("%q", e.val)
	case *didLit:
		return e.val
	case *arrayLit:
		return "[" + showList(e.elems) + "]"
	case *unaryExpr:
		return "(" + e.op.spelling() + show(e.x) + ")"
	case *binaryExpr:
		return "(" + show(e.x) + " " + e.op.spelling() + " " + show(e.y) + ")"
	case *callExpr:
		return e.name + "(" + showList(e.args) + ")"
	case *indexExpr:
		return show(e.x) + "[" + show(e.index) + "]"
	}
	return "?"
}

func showList(es []expr) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = show(e)
	}
	return strings.Join(s, ", ")
}

func TestNestingLimit(t *testing.T) {
	deep := strings.Repeat("(", maxNesting+10) + "1" + strings.Repeat(")", maxNesting+10)
	_, errs := parse("t.ccl", []byte("fn f() -> Integer { return "+deep+"; }"))
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "nested too deeply") {
		t.Fatalf("errors: %v", errs)
	}
	ok := strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100)
	if _, errs := parse("t.ccl", []byte("fn f() -> Integer { return "+ok+"; }")); len(errs) > 0 {
		t.Fatalf("100 levels: %v", errs)
	}
}
