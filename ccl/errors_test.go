package ccl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/ccl"
)

// TestCompileErrors checks each error's position and message exactly, and
// that no WebAssembly comes out.
func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string // "line:col: message"
	}{
		// The cases the issue names.
		{"type mismatch", `fn run() -> Integer {
	let x: Integer = true;
	return x;
}`, []string{"2:19: cannot use a Bool value as Integer in the declaration of x"}},
		{"type mismatch in an operation", `fn run() -> Integer {
	return 1 + true;
}`, []string{"2:11: invalid operation: Integer + Bool (mismatched types)"}},
		{"wrong return type", `policy passes() -> Bool {
	return 42;
}`, []string{"2:9: wrong return type: passes returns Bool, not Integer"}},
		{"re-declared name", `fn run() -> Integer {
	let x = 1;
	if x > 0 {
		let x = 2;
	}
	return x;
}`, []string{"4:7: x is already declared (at p.ccl:2:6); a name cannot be declared again in its scope"}},
		{"re-declared name in one block", `fn run() -> Integer {
	let x = 1;
	let x = 2;
	return x;
}`, []string{"3:6: x is already declared (at p.ccl:2:6); a name cannot be declared again in its scope"}},
		{"re-declared parameter", `fn f(a: Integer) -> Integer {
	let a = 2;
	return a;
}`, []string{"2:6: a is already declared (at p.ccl:1:6); a name cannot be declared again in its scope"}},
		{"missing semicolon", `fn run() -> Integer {
	let x = 1
	return x;
}`, []string{"2:11: expected ';' after the let statement, found 'return'"}},
		{"Timestamp + Timestamp", `fn run() -> Integer {
	let t = now() + now();
	return 0;
}`, []string{"2:16: invalid operation: Timestamp + Timestamp (add a Duration to a Timestamp, or subtract two Timestamps to get a Duration)"}},
		{"missing return path", `fn sign(x: Integer) -> Integer {
	if x > 0 {
		return 1;
	} else if x < 0 {
		return -1;
	}
}`, []string{"7:1: missing return: sign must return an Integer on every path"}},
		{"missing return in a loop", `fn run() -> Integer {
	while 1 < 2 {
		return 1;
	}
}`, []string{"5:1: missing return: run must return an Integer on every path"}},
		{"unknown function", `fn run() -> Integer {
	return wall_clock();
}`, []string{"2:9: unknown function wall_clock"}},
		{"an internal host function", `fn run() -> Integer {
	trap(1, 0, 0);
	return 0;
}`, []string{"2:2: unknown function trap"}},

		// More syntax.
		{"unterminated string", "fn run() -> Integer {\n\trequire(true, \"oops);\n\treturn 0;\n}",
			[]string{`2:16: string literal not terminated`}},
		{"unexpected character", "fn run() -> Integer { return 1 @ 2; }",
			[]string{"1:32: unexpected character '@'"}},
		{"bad declaration", "let x = 1;", []string{"1:1: expected 'const', 'fn' or 'policy', found 'let'"}},
		{"missing result type", "fn f() { return 1; }", []string{"1:8: expected '->' and a result type after the parameters, found '{'"}},
		{"assign to an expression", "fn f() -> Integer { f() = 1; return 1; }",
			[]string{"1:25: cannot assign to this expression: only a variable can be assigned"}},
		{"expression statement", "fn f() -> Integer { 1 + 2; return 1; }",
			[]string{"1:21: this expression is not a statement (only a call can be used as one)"}},
		{"integer too large", "fn f() -> Integer { return 9223372036854775808; }",
			[]string{"1:28: integer literal 9223372036854775808 is too large for Integer"}},
		{"malformed DID", "const D: Did = did:key:;", []string{"1:16: malformed DID literal did:key:: empty method-specific id"}},
		{"recovery at the next declaration", `fn a() -> Integer { return 1 }
fn b() -> Integer { return true; }
fn c() -> Integer { let = 2; }`, []string{
			"1:29: expected ';' after the return statement, found '}'",
			"3:25: expected identifier after 'let', found '='",
		}},

		// More types.
		{"missing closing brace", `fn a() -> Integer {
	return 1;

fn b() -> Integer { return c }`, []string{
			"4:1: expected '}' to close the block, found 'fn'",
			"4:29: expected ';' after the return statement, found '}'",
		}},
		{"several errors", `fn run() -> Integer {
	let a: Bool = 1;
	let b: Did = "x";
	return a;
}`, []string{
			"2:16: cannot use an Integer value as Bool in the declaration of a",
			"3:15: cannot use a String value as Did in the declaration of b",
			"4:9: wrong return type: run returns Integer, not Bool",
		}},
		{"unknown name", "fn run() -> Integer { return y; }", []string{"1:30: unknown name y"}},
		{"unknown type", "fn f(x: Float) -> Integer { return 1; }", []string{"1:9: unknown type Float"}},
		{"array of Bool", "fn f(x: Array<Bool>) -> Integer { return 1; }", []string{"1:15: arrays hold Integer or Did values, not Bool"}},
		{"condition", "fn f() -> Integer { if 1 { return 1; } return 2; }", []string{"1:24: the condition of if must be Bool, not Integer"}},
		{"require message", "fn f() -> Integer { require(true, 5); return 1; }", []string{"1:35: the message of require must be a String, not Integer"}},
		{"index a non-array", "fn f(x: Integer) -> Integer { return x[0]; }", []string{"1:39: cannot index an Integer (only arrays)"}},
		{"mixed array", "fn f() -> Integer { let a = [1, did:key:z6Mk]; return 1; }",
			[]string{"1:33: array elements must all have one type: this one is Did, the first is Integer"}},
		{"empty array", "fn f() -> Integer { let a = []; return 1; }",
			[]string{"1:29: cannot tell the type of an empty array: declare it, e.g. let a: Array<Integer> = [];"}},
		{"arguments", "fn g(a: Integer) -> Integer { return a; }\nfn f() -> Integer { return g(1, 2) + vote_count(true); }", []string{
			"2:28: g takes 1 arguments (Integer) -> Integer, got 2",
			"2:49: cannot use a Bool value as argument 1 of vote_count, which is Integer",
		}},
		{"Did arithmetic", "fn f(d: Did) -> Integer { return len(d); }", []string{"1:38: len needs an array, not Did"}},
		{"Duration times Duration", "fn f() -> Duration { return 2 days * 3 days; }",
			[]string{"1:36: invalid operation: Duration * Duration (operator not defined on Duration)"}},
		{"Bool order", "fn f() -> Bool { return true < false; }",
			[]string{"1:30: invalid operation: Bool < Bool (operator not defined on Bool)"}},
		{"compare arrays", "fn f() -> Bool { return [1] == [1]; }",
			[]string{"1:29: invalid operation: Array<Integer> == Array<Integer> (arrays cannot be compared)"}},
		{"negate a Bool", "fn f() -> Bool { return -true; }", []string{"1:25: invalid operation: -Bool (operator not defined on Bool)"}},
		{"assign a constant", "const K: Integer = 1;\nfn f() -> Integer { K = 2; return K; }", []string{"2:21: cannot assign to K: it is a constant"}},
		{"assign the wrong type", "fn f() -> Integer { let x = 1; x = now(); return x; }",
			[]string{"1:36: cannot assign a Timestamp value to x, which is Integer"}},
		{"shadow a constant", "const K: Integer = 1;\nfn f() -> Integer { let K = 2; return K; }",
			[]string{"2:25: K is already declared as a constant (at p.ccl:1:7); a name cannot be declared again in its scope"}},
		{"loop variable", "fn f() -> Integer { let x = 0; for x in [1] { } return 0; }",
			[]string{"1:36: x is already declared (at p.ccl:1:25); a name cannot be declared again in its scope"}},
		{"sibling scopes may reuse a name", `fn f() -> Integer {
	if true { let y = 1; } else { let y = 2; }
	for y in [1] { }
	return yy;
}`, []string{"4:9: unknown name yy"}},

		// Declarations.
		{"duplicate function", "fn f() -> Integer { return 1; }\nfn f() -> Integer { return 2; }",
			[]string{"2:4: f is already declared (at p.ccl:1:4)"}},
		{"host function name", "fn now() -> Integer { return 1; }", []string{"1:4: cannot declare now: it is a host function"}},
		{"reserved name", "policy __icn_fuel() -> Integer { return 1; }",
			[]string{"1:8: cannot declare __icn_fuel: names starting with __icn_ are reserved"}},
		{"run signature", "fn run(x: Integer) -> Integer { return x; }", []string{"1:4: run must be declared fn run() -> Integer"}},
		{"entry point signature", "policy passes(x: Integer) -> Bool { return true; }",
			[]string{"1:8: entry point passes must be declared () -> Bool"}},
		{"exported array", "policy p(a: Array<Integer>) -> Integer { return 1; }",
			[]string{"1:13: an exported function cannot take Array<Integer> (only Integer, Bool, Timestamp, Duration, Did or String)"}},
		{"constant calls", "const K: Integer = member_count();", []string{"1:20: a constant's value cannot call member_count: only literals, constants and operators are allowed"}},
		{"constant order", "const A: Integer = B;\nconst B: Integer = 1;",
			[]string{"1:20: constant B is used before its declaration (a constant may refer to earlier constants only)"}},
		{"constant overflow", "const A: Integer = 9223372036854775807 + 1;",
			[]string{"1:40: constant overflow: 9223372036854775807 + 1 is outside the range of Integer"}},
		{"constant division by zero", "const A: Integer = 1 / (2 - 2);", []string{"1:22: division by zero in a constant"}},
		{"constant index", "const A: Array<Integer> = [1, 2];\nconst B: Integer = A[2];",
			[]string{"2:21: index 2 out of bounds: the array has 2 elements"}},
		{"call a variable", "fn f(x: Integer) -> Integer { return x(1); }", []string{"1:38: x is not a function"}},
		{"use a function as a value", "fn f() -> Integer { return f; }", []string{"1:28: f is a function: call it, f(...)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ccl.Compile("p.ccl", []byte(tc.src))
			if out != nil {
				t.Error("an Output came with errors")
			}
			list, ok := errors.AsType[ccl.ErrorList](err)
			if !ok {
				t.Fatalf("error %v (%T) is not an ErrorList", err, err)
			}
			var got []string
			for _, e := range list {
				if e.Pos.Filename != "p.ccl" {
					t.Errorf("error %v: file %q", e, e.Pos.Filename)
				}
				got = append(got, strings.TrimPrefix(e.Error(), "p.ccl:"))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if cerr := ccl.Check("p.ccl", []byte(tc.src)); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Check: %v, Compile: %v", cerr, err)
			}
		})
	}
}

func TestErrorList(t *testing.T) {
	_, err := ccl.Compile("", []byte("fn f() -> Integer { return x + y; }"))
	if err == nil || err.Error() != "<input>:1:28: unknown name x (and 1 more errors)" {
		t.Fatalf("error: %v", err)
	}
	if e, ok := errors.AsType[*ccl.Error](err); !ok || e.Pos.Line != 1 || e.Pos.Col != 28 || e.Pos.Offset != 27 {
		t.Fatalf("errors.As *Error: %v %+v", ok, e)
	}
	big := make([]byte, ccl.MaxSourceBytes+1)
	if _, err := ccl.Compile("big.ccl", big); err == nil || !strings.Contains(err.Error(), "big.ccl:1:1: the source is larger") {
		t.Fatalf("large source: %v", err)
	}
}
