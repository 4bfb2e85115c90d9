package wiring

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// envPrefix starts every environment variable of a configuration key.
const envPrefix = "ICN_"

// field is one configuration key, found by walking Config with reflection.
// It is the only description of a key: the file, env and flag layers, the
// flag help and the printers all read it, so no key is listed twice.
type field struct {
	key         string   // dotted TOML key: "supervision.backoff_max"
	path        []string // the same, split: ["supervision", "backoff_max"]
	index       []int    // reflect field index of the key in Config
	env         string   // its variable: the env tag or derivedEnv
	flag        string   // its flag without dashes: the flag tag or derivedFlag
	derivedEnv  string   // "ICN_SUPERVISION_BACKOFF_MAX"
	derivedFlag string   // "supervision-backoff-max"
	help        string   // the help tag
	kind        kind
}

// kind is the type of a key's value.
type kind uint8

const (
	kindString   kind = iota + 1 // string
	kindInt                      // int
	kindBool                     // bool
	kindFloat                    // float64
	kindDuration                 // time.Duration, written as "5s"
	kindStrings                  // []string, comma-separated in env and flags
)

// flagType is the type name pflag shows in help.
func (k kind) flagType() string {
	switch k {
	case kindString:
		return "string"
	case kindInt:
		return "int"
	case kindBool:
		return "bool"
	case kindFloat:
		return "float"
	case kindDuration:
		return "duration"
	case kindStrings:
		return "strings"
	}
	return "value"
}

// configFields walks Config and returns its keys in struct order.
func configFields() []field {
	var out []field
	walkFields(reflect.TypeFor[Config](), nil, nil, &out)
	return out
}

func walkFields(t reflect.Type, path []string, index []int, out *[]field) {
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if name == "-" || !sf.IsExported() {
			continue
		}
		if name == "" {
			// A programming error in this package, caught by its tests.
			panic("wiring: config field " + sf.Name + " has no toml tag")
		}
		p := append(slices.Clone(path), name)
		idx := append(slices.Clone(index), i)
		k := kindOf(sf.Type)
		if k == 0 {
			if sf.Type.Kind() != reflect.Struct {
				panic("wiring: config field " + sf.Name + " has unsupported type " + sf.Type.String())
			}
			walkFields(sf.Type, p, idx, out)
			continue
		}
		f := field{
			key:         strings.Join(p, "."),
			path:        p,
			index:       idx,
			derivedEnv:  envPrefix + strings.ToUpper(strings.Join(p, "_")),
			derivedFlag: strings.ReplaceAll(strings.Join(p, "-"), "_", "-"),
			help:        sf.Tag.Get("help"),
			kind:        k,
		}
		f.env = cmp.Or(sf.Tag.Get("env"), f.derivedEnv)
		f.flag = cmp.Or(sf.Tag.Get("flag"), f.derivedFlag)
		*out = append(*out, f)
	}
}

func kindOf(t reflect.Type) kind {
	if t == reflect.TypeFor[time.Duration]() {
		return kindDuration
	}
	switch t {
	case reflect.TypeFor[string]():
		return kindString
	case reflect.TypeFor[int]():
		return kindInt
	case reflect.TypeFor[bool]():
		return kindBool
	case reflect.TypeFor[float64]():
		return kindFloat
	case reflect.TypeFor[[]string]():
		return kindStrings
	}
	return 0
}

// parseText parses a value written as text (an environment variable or a
// flag). Its error says what was wanted.
func parseText(k kind, s string) (reflect.Value, error) {
	switch k {
	case kindString:
		return reflect.ValueOf(s), nil
	case kindInt:
		n, err := strconv.Atoi(s)
		if errors.Is(err, strconv.ErrRange) {
			return reflect.Value{}, errors.New("integer out of range")
		}
		if err != nil {
			return reflect.Value{}, errors.New("want an integer")
		}
		return reflect.ValueOf(n), nil
	case kindBool:
		switch s {
		case "true":
			return reflect.ValueOf(true), nil
		case "false":
			return reflect.ValueOf(false), nil
		}
		return reflect.Value{}, errors.New("want true or false")
	case kindFloat:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return reflect.Value{}, errors.New("want a number")
		}
		return reflect.ValueOf(x), nil
	case kindDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return reflect.Value{}, fmt.Errorf(`want a duration such as "30s" or "1m30s": %w`, err)
		}
		return reflect.ValueOf(d), nil
	case kindStrings:
		return reflect.ValueOf(splitList(s)), nil
	}
	return reflect.Value{}, fmt.Errorf("unsupported kind %d", k)
}

// splitList splits a comma-separated list, trims its items and drops empty
// ones: "" is the empty list (nil).
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// fromTOML converts a value decoded from TOML (string, int64, float64, bool,
// []any, map[string]any, time.Time...) into a key's type. TOML values are
// typed, so text is not parsed into numbers; a duration is a string.
func fromTOML(k kind, v any) (reflect.Value, error) {
	switch k {
	case kindString:
		if s, ok := v.(string); ok {
			return reflect.ValueOf(s), nil
		}
		return reflect.Value{}, want("a string", v)
	case kindInt:
		n, ok := v.(int64)
		if !ok {
			return reflect.Value{}, want("an integer", v)
		}
		if n < math.MinInt || n > math.MaxInt {
			return reflect.Value{}, errors.New("integer out of range")
		}
		return reflect.ValueOf(int(n)), nil
	case kindBool:
		if b, ok := v.(bool); ok {
			return reflect.ValueOf(b), nil
		}
		return reflect.Value{}, want("true or false", v)
	case kindFloat:
		switch x := v.(type) {
		case float64:
			return reflect.ValueOf(x), nil
		case int64:
			return reflect.ValueOf(float64(x)), nil
		}
		return reflect.Value{}, want("a number", v)
	case kindDuration:
		s, ok := v.(string)
		if !ok {
			return reflect.Value{}, want(`a duration string such as "30s"`, v)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return reflect.Value{}, fmt.Errorf(`want a duration such as "30s" or "1m30s", got %q: %w`, s, err)
		}
		return reflect.ValueOf(d), nil
	case kindStrings:
		items, ok := v.([]any)
		if !ok {
			return reflect.Value{}, want("an array of strings", v)
		}
		var out []string
		for i, item := range items {
			s, ok := item.(string)
			if !ok {
				return reflect.Value{}, fmt.Errorf("item %d: %w", i, want("a string", item))
			}
			out = append(out, s)
		}
		return reflect.ValueOf(out), nil
	}
	return reflect.Value{}, fmt.Errorf("unsupported kind %d", k)
}

// want says what was wanted and what a TOML value was instead.
func want(what string, got any) error {
	return fmt.Errorf("want %s, got %s", what, tomlTypeName(got))
}

func tomlTypeName(v any) string {
	switch x := v.(type) {
	case string:
		return "string " + shorten(strconv.Quote(x))
	case int64:
		return "integer " + strconv.FormatInt(x, 10)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	case time.Time:
		return "date-time"
	}
	return fmt.Sprintf("%T", v)
}

// shorten keeps error messages short when a value is long.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// encodeTOML writes c as TOML: the top-level keys, then one table per
// nested struct, each in struct order.
func encodeTOML(c Config, fields []field) string {
	rv := reflect.ValueOf(c)
	tables := []string{""} // top-level keys must come before any [table]
	byTable := map[string][]field{}
	for _, f := range fields {
		t := strings.Join(f.path[:len(f.path)-1], ".")
		if _, ok := byTable[t]; !ok && t != "" {
			tables = append(tables, t)
		}
		byTable[t] = append(byTable[t], f)
	}
	var b strings.Builder
	for _, t := range tables {
		if len(byTable[t]) == 0 {
			continue
		}
		if t != "" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString("[" + t + "]\n")
		}
		for _, f := range byTable[t] {
			b.WriteString(f.path[len(f.path)-1])
			b.WriteString(" = ")
			b.WriteString(tomlValue(f.kind, rv.FieldByIndex(f.index)))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func tomlValue(k kind, v reflect.Value) string {
	switch k {
	case kindString:
		return tomlQuote(v.String())
	case kindInt:
		return strconv.FormatInt(v.Int(), 10)
	case kindBool:
		return strconv.FormatBool(v.Bool())
	case kindFloat:
		x := v.Float()
		switch {
		case math.IsNaN(x):
			return "nan"
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case kindDuration:
		return tomlQuote(time.Duration(v.Int()).String())
	case kindStrings:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = tomlQuote(v.Index(i).String())
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return `""`
}

// tomlQuote writes s as a TOML basic string. Invalid UTF-8 becomes U+FFFD
// (a TOML document cannot hold it).
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// logValue groups the keys like the TOML file: p2p and supervision are
// groups. Durations are logged as text ("5s"), as they are written.
func logValue(c Config, fields []field) slog.Value {
	return slog.GroupValue(groupAttrs(fields, 0, reflect.ValueOf(c))...)
}

// groupAttrs turns fields, which all share their first depth path elements
// and come in struct order (so each nested struct's keys are contiguous),
// into attributes.
func groupAttrs(fields []field, depth int, rv reflect.Value) []slog.Attr {
	var attrs []slog.Attr
	for i := 0; i < len(fields); {
		f := fields[i]
		name := f.path[depth]
		if len(f.path) == depth+1 {
			attrs = append(attrs, leafAttr(name, f.kind, rv.FieldByIndex(f.index)))
			i++
			continue
		}
		j := i
		for j < len(fields) && len(fields[j].path) > depth+1 && fields[j].path[depth] == name {
			j++
		}
		attrs = append(attrs, slog.Attr{Key: name, Value: slog.GroupValue(groupAttrs(fields[i:j], depth+1, rv)...)})
		i = j
	}
	return attrs
}

func leafAttr(name string, k kind, v reflect.Value) slog.Attr {
	switch k {
	case kindInt:
		return slog.Int64(name, v.Int())
	case kindBool:
		return slog.Bool(name, v.Bool())
	case kindFloat:
		return slog.Float64(name, v.Float())
	case kindDuration:
		return slog.String(name, time.Duration(v.Int()).String())
	case kindStrings:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = v.Index(i).String()
		}
		return slog.Any(name, items)
	}
	return slog.String(name, v.String())
}
