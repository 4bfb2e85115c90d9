package ccl

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// lexer turns source bytes into tokens. It never fails: a malformed token
// is reported through errf and lexing goes on after it.
type lexer struct {
	src      []byte
	filename string
	off      int
	line     int
	lineOff  int // offset of the current line's first byte
	errf     func(Pos, string)
}

func newLexer(filename string, src []byte, errf func(Pos, string)) *lexer {
	return &lexer{src: src, filename: filename, line: 1, errf: errf}
}

func (l *lexer) pos() Pos {
	return Pos{Filename: l.filename, Offset: l.off, Line: l.line, Col: l.off - l.lineOff + 1}
}

func (l *lexer) peekByte(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

// skip passes white space and // comments.
func (l *lexer) skip() {
	for l.off < len(l.src) {
		switch c := l.src[l.off]; {
		case c == '\n':
			l.off++
			l.line++
			l.lineOff = l.off
		case c == ' ' || c == '\t' || c == '\r':
			l.off++
		case c == '/' && l.peekByte(1) == '/':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.off++
			}
		default:
			return
		}
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isHex(c byte) bool    { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// next returns the next token; at the end of the input, tEOF forever.
func (l *lexer) next() token {
	l.skip()
	start := l.pos()
	tok := func(k tokenKind, n int) token {
		lit := string(l.src[l.off : l.off+n])
		l.off += n
		return token{kind: k, pos: start, end: l.pos(), lit: lit}
	}
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: start, end: start}
	}
	c := l.src[l.off]
	switch {
	case isLetter(c):
		n := 0
		for l.off+n < len(l.src) && (isLetter(l.src[l.off+n]) || isDigit(l.src[l.off+n])) {
			n++
		}
		word := string(l.src[l.off : l.off+n])
		if word == "did" && l.peekByte(n) == ':' && isMethodChar(l.peekByte(n+1)) {
			return l.did(start)
		}
		if k, ok := keyword(word); ok {
			return tok(k, n)
		}
		return tok(tIdent, n)
	case isDigit(c):
		n := 0
		for l.off+n < len(l.src) && (isDigit(l.src[l.off+n]) || l.src[l.off+n] == '_') {
			n++
		}
		t := tok(tInt, n)
		if strings.HasSuffix(t.lit, "_") || strings.Contains(t.lit, "__") {
			l.errf(start, "malformed integer literal "+t.lit+": '_' must separate digits")
		} else if l.off < len(l.src) && isLetter(l.src[l.off]) {
			l.errf(l.pos(), "unexpected letter after integer literal "+t.lit+" (a unit needs a space: 7 days)")
		}
		return t
	case c == '"':
		return l.str(start)
	}
	two := func(second byte, with, without tokenKind) token {
		if l.peekByte(1) == second {
			return tok(with, 2)
		}
		return tok(without, 1)
	}
	switch c {
	case '+':
		return tok(tPlus, 1)
	case '-':
		return two('>', tArrow, tMinus)
	case '*':
		return tok(tStar, 1)
	case '/':
		return tok(tSlash, 1)
	case '%':
		return tok(tPercent, 1)
	case '=':
		return two('=', tEq, tAssign)
	case '!':
		return two('=', tNe, tNot)
	case '<':
		return two('=', tLe, tLt)
	case '>':
		return two('=', tGe, tGt)
	case '&':
		if l.peekByte(1) == '&' {
			return tok(tAndAnd, 2)
		}
	case '|':
		if l.peekByte(1) == '|' {
			return tok(tOrOr, 2)
		}
	case '(':
		return tok(tLParen, 1)
	case ')':
		return tok(tRParen, 1)
	case '{':
		return tok(tLBrace, 1)
	case '}':
		return tok(tRBrace, 1)
	case '[':
		return tok(tLBracket, 1)
	case ']':
		return tok(tRBracket, 1)
	case ',':
		return tok(tComma, 1)
	case ';':
		return tok(tSemi, 1)
	case ':':
		return tok(tColon, 1)
	}
	r, size := utf8.DecodeRune(l.src[l.off:])
	if r == utf8.RuneError && size <= 1 {
		l.errf(start, "invalid UTF-8 byte")
	} else {
		l.errf(start, "unexpected character "+strconv.QuoteRune(r))
	}
	l.off += max(size, 1)
	return l.next()
}

// isMethodChar: a DID method name is lower-case letters and digits.
func isMethodChar(c byte) bool { return c >= 'a' && c <= 'z' || isDigit(c) }

// isIDChar: the characters of a DID's method-specific id (besides ':' and
// %-encoding).
func isIDChar(c byte) bool { return isLetter(c) || isDigit(c) || c == '.' || c == '-' }

// did scans did:method:id (W3C DID syntax: the id is idchars and
// %-encoded bytes, with ':' inside but not at the end).
func (l *lexer) did(start Pos) token {
	i := l.off + len("did:")
	for i < len(l.src) && isMethodChar(l.src[i]) {
		i++
	}
	bad := func(msg string) token {
		for i < len(l.src) && (isIDChar(l.src[i]) || l.src[i] == ':' || l.src[i] == '%') {
			i++
		}
		lit := string(l.src[l.off:i])
		l.off = i
		l.errf(start, "malformed DID literal "+lit+": "+msg)
		return token{kind: tDID, pos: start, end: l.pos(), lit: lit}
	}
	if i >= len(l.src) || l.src[i] != ':' {
		return bad("expected ':' after the method name")
	}
	i++
	idStart := i
	for i < len(l.src) {
		c := l.src[i]
		switch {
		case isIDChar(c) || c == ':':
			i++
		case c == '%':
			if i+2 >= len(l.src) || !isHex(l.src[i+1]) || !isHex(l.src[i+2]) {
				return bad("'%' must be followed by two hex digits")
			}
			i += 3
		default:
			goto done
		}
	}
done:
	if i == idStart {
		return bad("empty method-specific id")
	}
	if l.src[i-1] == ':' {
		return bad("the id must not end with ':'")
	}
	lit := string(l.src[l.off:i])
	l.off = i
	return token{kind: tDID, pos: start, end: l.pos(), lit: lit}
}

// str scans a string literal; lit is its decoded value.
func (l *lexer) str(start Pos) token {
	l.off++ // "
	var b strings.Builder
	for {
		if l.off >= len(l.src) || l.src[l.off] == '\n' {
			l.errf(start, "string literal not terminated")
			return token{kind: tString, pos: start, end: l.pos(), lit: b.String()}
		}
		c := l.src[l.off]
		switch c {
		case '"':
			l.off++
			return token{kind: tString, pos: start, end: l.pos(), lit: b.String()}
		case '\\':
			esc := l.pos()
			switch l.peekByte(1) {
			case '"', '\\':
				b.WriteByte(l.peekByte(1))
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				l.errf(esc, `unknown escape sequence (use \" \\ \n or \t)`)
				if l.peekByte(1) == '\n' || l.off+1 >= len(l.src) {
					l.off++
					continue
				}
			}
			l.off += 2
		default:
			l.off++
			b.WriteByte(c)
		}
	}
}
