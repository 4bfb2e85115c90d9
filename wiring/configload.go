package wiring

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// The ICN_* environment variables that are not configuration keys. They
// are the only ICN_* variables Load does not treat as keys; see NonConfigEnv.
const (
	EnvConfig        = "ICN_CONFIG"         // path of the configuration file (like --config)
	EnvKeyPassphrase = "ICN_KEY_PASSPHRASE" // the node key passphrase itself; never part of Config
	EnvAPI           = "ICN_API"            // icnctl: URL of the REST API
	EnvAdmin         = "ICN_ADMIN"          // icnctl: URL of the admin API
)

// NonConfigEnv returns the ICN_* variables that Load leaves alone. Every
// other ICN_* variable must name a configuration key, or Load fails.
func NonConfigEnv() []string {
	return []string{EnvConfig, EnvKeyPassphrase, EnvAPI, EnvAdmin}
}

// FlagConfig is the flag naming the configuration file (--config).
const FlagConfig = "config"

// MaxFileSize bounds the configuration file. A full configuration with
// comments takes a few KiB.
const MaxFileSize = 64 << 10

// Bounds on the shape of the file, checked before the TOML parser runs:
// BurntSushi/toml takes time quadratic in the parts of a key and in the
// nesting of arrays and inline tables (a 64 KiB file of nested inline
// tables took more than a minute). Configuration keys have two parts and
// values no nesting, so these bounds leave plenty of room.
const (
	maxKeyParts = 16
	maxNesting  = 16
)

// maxErrors bounds the problems one Load reports.
const maxErrors = 20

// Load resolves the configuration of a node:
//
//	defaults(profile) < TOML file < ICN_* environment < flags
//
// path names the TOML file; if it is empty, the file is the one named by
// --config in args, else by ICN_CONFIG in environ, else there is none.
// environ is a list of "KEY=value" strings as os.Environ returns (the first
// of duplicate entries counts, as with os.Getenv). args are flags only, as
// defined by RegisterFlags: []string{"--api-addr", "127.0.0.1:9000",
// "--p2p-listen", "/ip4/127.0.0.1/tcp/0"}; a positional argument is an error.
//
// The profile is resolved first (flag > env > file > production) since it
// picks the defaults. Everything is strict: an unknown key in the file, an
// unknown ICN_* variable, an unknown flag and a malformed value are errors
// naming the key and its source, all of them joined with errors.Join; then
// the result must pass Validate. On any error Load returns the zero Config.
func Load(path string, environ, args []string) (Config, error) {
	fs := pflag.NewFlagSet("icnd", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Config{}, flagParseError(err, configFields())
	}
	if fs.NArg() > 0 {
		return Config{}, &Error{
			Kind:   ErrUnknownKey,
			Source: Source{Origin: OriginFlag},
			Detail: fmt.Sprintf("unexpected argument %q: want --key value (a bool flag takes --key=false)", fs.Arg(0)),
		}
	}
	return LoadFlags(path, environ, fs)
}

// LoadFlags is Load for a flag set that its caller parsed, such as a cobra
// command's: fs must have been prepared with RegisterFlags. path and
// environ are as for Load.
func LoadFlags(path string, environ []string, fs *pflag.FlagSet) (Config, error) {
	if path == "" {
		path = ConfigPath(fs, environ)
	}
	var data []byte
	if path != "" {
		var err error
		if data, err = readFile(path); err != nil {
			return Config{}, err
		}
	}
	return resolve(path, data, environ, fs)
}

// ConfigPath returns the configuration file named by --config in fs, else
// by ICN_CONFIG in environ, else "".
func ConfigPath(fs *pflag.FlagSet, environ []string) string {
	if fs != nil {
		if f := fs.Lookup(FlagConfig); f != nil && f.Changed {
			return f.Value.String()
		}
	}
	if v, ok := lookupEnv(environ, EnvConfig); ok {
		return v
	}
	return ""
}

// RegisterFlags adds to fs one flag per configuration key, plus --config.
// Their help shows each key's variable and its defaults per profile. Call it
// once per flag set (pflag panics on a flag defined twice).
func RegisterFlags(fs *pflag.FlagSet) {
	fields := configFields()
	defaults := make([]reflect.Value, 0, 3)
	for _, p := range Profiles() {
		c, _ := Default(p) // the names come from Profiles: no error
		defaults = append(defaults, reflect.ValueOf(c))
	}
	for _, f := range fields {
		v := &flagValue{kind: f.kind}
		fl := fs.VarPF(v, f.flag, "", f.help+" ("+f.env+"; "+defaultsHelp(f, defaults)+")")
		if f.kind == kindBool {
			fl.NoOptDefVal = "true" // --p2p-mdns alone means true; --p2p-mdns=false
		}
	}
	fs.String(FlagConfig, "", "path of the TOML configuration file ("+EnvConfig+")")
}

// defaultsHelp says a key's default, and how dev and test differ.
func defaultsHelp(f field, defaults []reflect.Value) string {
	prod := helpValue(f.kind, defaults[0].FieldByIndex(f.index))
	var b strings.Builder
	b.WriteString("default " + prod)
	if f.key == "profile" {
		return b.String()
	}
	for i, p := range Profiles()[1:] {
		if d := helpValue(f.kind, defaults[i+1].FieldByIndex(f.index)); d != prod {
			b.WriteString(", " + p + " " + d)
		}
	}
	return b.String()
}

// helpValue writes a value as it is typed on the command line.
func helpValue(k kind, v reflect.Value) string {
	switch k {
	case kindString:
		if v.String() == "" {
			return "none"
		}
		return fmt.Sprintf("%q", v.String())
	case kindStrings:
		if v.Len() == 0 {
			return "none"
		}
		return strings.Join(v.Interface().([]string), ",")
	}
	return strings.Trim(tomlValue(k, v), `"`)
}

// flagValue records what a flag was given; Load parses it, so that a bad
// value gets the same typed error from every layer.
type flagValue struct {
	kind kind
	raw  []string // one entry per occurrence
}

func (v *flagValue) String() string     { return strings.Join(v.raw, ",") }
func (v *flagValue) Set(s string) error { v.raw = append(v.raw, s); return nil }
func (v *flagValue) Type() string       { return v.kind.flagType() }
func (v *flagValue) IsBoolFlag() bool   { return v.kind == kindBool }

// assignment is one value for one key from one source.
type assignment struct {
	f   *field
	src Source
	val reflect.Value
}

// resolve applies the layers in order. It changes nothing until every
// layer has parsed without error.
func resolve(path string, data []byte, environ []string, fs *pflag.FlagSet) (Config, error) {
	fields := configFields()
	var all []assignment
	var errs []error
	if path != "" {
		a, e := fileLayer(path, data, fields)
		all, errs = append(all, a...), append(errs, e...)
	}
	a, e := envLayer(environ, fields)
	all, errs = append(all, a...), append(errs, e...)
	a, e = flagLayer(fs, fields)
	all, errs = append(all, a...), append(errs, e...)
	if len(errs) > maxErrors {
		errs = append(errs[:maxErrors], fmt.Errorf("wiring: and %d more problems", len(errs)-maxErrors))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}

	profile, profileSrc := ProfileProduction, Source{}
	for _, a := range all {
		if a.f.key == "profile" {
			profile, profileSrc = a.val.String(), a.src
		}
	}
	cfg, err := Default(profile)
	if err != nil {
		if ce, ok := err.(*Error); ok {
			ce.Source = profileSrc
		}
		return Config{}, err
	}
	origins := make(map[string]Source, len(all))
	rv := reflect.ValueOf(&cfg).Elem()
	for _, a := range all {
		dst := rv.FieldByIndex(a.f.index)
		dst.Set(a.val.Convert(dst.Type()))
		origins[a.f.key] = a.src
	}
	if err := cfg.Validate(); err != nil {
		for _, e := range errorList(err) {
			if ce, ok := e.(*Error); ok && ce.Source == (Source{}) {
				ce.Source = origins[ce.Key]
			}
		}
		return Config{}, err
	}
	return cfg, nil
}

// readFile reads the configuration file, refusing one over MaxFileSize.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("wiring: read config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("wiring: read config file: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, &Error{
			Kind:   ErrMalformed,
			Source: Source{Origin: OriginFile, Name: path},
			Detail: fmt.Sprintf("file is larger than %d bytes", MaxFileSize),
		}
	}
	return data, nil
}

// keyTable is the tree of TOML keys: leaves and nested tables.
type keyTable struct {
	leaves map[string]*field
	tables map[string]*keyTable
}

func newKeyTable(fields []field) *keyTable {
	root := &keyTable{leaves: map[string]*field{}, tables: map[string]*keyTable{}}
	for i := range fields {
		t := root
		for _, name := range fields[i].path[:len(fields[i].path)-1] {
			next, ok := t.tables[name]
			if !ok {
				next = &keyTable{leaves: map[string]*field{}, tables: map[string]*keyTable{}}
				t.tables[name] = next
			}
			t = next
		}
		t.leaves[fields[i].path[len(fields[i].path)-1]] = &fields[i]
	}
	return root
}

// fileLayer decodes the TOML file. It decodes into a map rather than into
// Config: BurntSushi/toml matches struct fields case-insensitively, and a
// strict loader wants exact keys and its own type rules (no integer
// durations, which would silently mean nanoseconds).
func fileLayer(path string, data []byte, fields []field) ([]assignment, []error) {
	src := Source{Origin: OriginFile, Name: path}
	if err := checkShape(data); err != nil {
		return nil, []error{&Error{Kind: ErrMalformed, Source: src, Detail: err.Error()}}
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return nil, []error{&Error{Kind: ErrMalformed, Source: src, Detail: "not a valid TOML document: " + err.Error(), Err: err}}
	}
	known := make([]string, len(fields))
	for i := range fields {
		known[i] = fields[i].key
	}
	var as []assignment
	var errs []error
	walkTOML(doc, nil, newKeyTable(fields), known, src, &as, &errs)
	return as, errs
}

func walkTOML(doc map[string]any, path []string, t *keyTable, known []string, src Source, as *[]assignment, errs *[]error) {
	for _, name := range slices.Sorted(maps.Keys(doc)) {
		v := doc[name]
		p := append(slices.Clone(path), name)
		if f, ok := t.leaves[name]; ok {
			val, err := fromTOML(f.kind, v)
			if err != nil {
				*errs = append(*errs, &Error{Kind: ErrMalformed, Key: f.key, Source: src, Detail: "malformed value: " + err.Error(), Err: err})
				continue
			}
			*as = append(*as, assignment{f: f, src: src, val: val})
			continue
		}
		if sub, ok := t.tables[name]; ok {
			m, ok := v.(map[string]any)
			if !ok {
				*errs = append(*errs, &Error{Kind: ErrMalformed, Key: keyString(p), Source: src, Detail: "malformed value: " + want("a table", v).Error()})
				continue
			}
			walkTOML(m, p, sub, known, src, as, errs)
			continue
		}
		key := keyString(p)
		detail := "unknown key"
		if len(*errs) < maxErrors { // past that nobody reads the hint
			detail += hint(key, known)
		}
		*errs = append(*errs, &Error{Kind: ErrUnknownKey, Key: key, Source: src, Detail: detail})
	}
}

// keyString writes a TOML key path, quoting parts that are not bare keys.
func keyString(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = p
		if !isBareKey(p) {
			parts[i] = tomlQuote(p)
		}
	}
	return strings.Join(parts, ".")
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		bare := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
		if !bare {
			return false
		}
	}
	return true
}

// lookupEnv is os.LookupEnv over a list of "KEY=value" strings.
func lookupEnv(environ []string, name string) (string, bool) {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// envLayer reads the ICN_* variables. Every one must be a key's variable
// or in NonConfigEnv. A variable set to "" is set: to the empty string, or
// for a list to the empty list.
func envLayer(environ []string, fields []field) ([]assignment, []error) {
	byName := make(map[string]*field, len(fields))
	names := make([]string, 0, len(fields))
	for i := range fields {
		byName[fields[i].env] = &fields[i]
		names = append(names, fields[i].env)
	}
	var as []assignment
	var errs []error
	seen := map[string]bool{}
	for _, kv := range environ {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) || seen[name] {
			continue
		}
		seen[name] = true
		if slices.Contains(NonConfigEnv(), name) {
			continue
		}
		src := Source{Origin: OriginEnv, Name: name}
		f, ok := byName[name]
		if !ok {
			errs = append(errs, &Error{Kind: ErrUnknownKey, Source: src, Detail: "not a configuration variable" + hintRenamed(name, fields, true, names)})
			continue
		}
		val, err := parseText(f.kind, raw)
		if err != nil {
			errs = append(errs, malformedText(f, src, raw, err))
			continue
		}
		as = append(as, assignment{f: f, src: src, val: val})
	}
	return as, errs
}

// flagLayer reads the flags RegisterFlags defined in fs. A scalar flag
// given twice takes its last value; every occurrence of a list flag adds
// its comma-separated items.
func flagLayer(fs *pflag.FlagSet, fields []field) ([]assignment, []error) {
	if fs == nil {
		return nil, nil
	}
	var as []assignment
	var errs []error
	for i := range fields {
		f := &fields[i]
		src := Source{Origin: OriginFlag, Name: "--" + f.flag}
		fl := fs.Lookup(f.flag)
		v, ok := (*flagValue)(nil), false
		if fl != nil {
			v, ok = fl.Value.(*flagValue)
		}
		if !ok {
			return nil, []error{fmt.Errorf("wiring: flag set has no --%s of its own: prepare it with RegisterFlags", f.flag)}
		}
		if len(v.raw) == 0 {
			continue
		}
		var val reflect.Value
		var err error
		raw := v.raw[len(v.raw)-1]
		if f.kind == kindStrings {
			raw = strings.Join(v.raw, ",")
		}
		if val, err = parseText(f.kind, raw); err != nil {
			errs = append(errs, malformedText(f, src, raw, err))
			continue
		}
		as = append(as, assignment{f: f, src: src, val: val})
	}
	return as, errs
}

func malformedText(f *field, src Source, raw string, err error) *Error {
	return &Error{
		Kind:   ErrMalformed,
		Key:    f.key,
		Source: src,
		Detail: fmt.Sprintf("malformed value %s: %v", shorten(fmt.Sprintf("%q", raw)), err),
		Err:    err,
	}
}

// flagParseError turns pflag's parse errors into typed ones.
func flagParseError(err error, fields []field) error {
	if errors.Is(err, pflag.ErrHelp) {
		return err
	}
	names := make([]string, 0, len(fields)+1)
	for _, f := range fields {
		names = append(names, "--"+f.flag)
	}
	names = append(names, "--"+FlagConfig)
	if ne, ok := errors.AsType[*pflag.NotExistError](err); ok {
		name := "--" + ne.GetSpecifiedName()
		if ne.GetSpecifiedShortnames() != "" {
			name = "-" + ne.GetSpecifiedShortnames()
		}
		return &Error{Kind: ErrUnknownKey, Source: Source{Origin: OriginFlag, Name: name}, Detail: "unknown flag" + hintRenamed(name, fields, false, names), Err: err}
	}
	if re, ok := errors.AsType[*pflag.ValueRequiredError](err); ok {
		e := &Error{Kind: ErrMalformed, Source: Source{Origin: OriginFlag, Name: "--" + re.GetSpecifiedName()}, Detail: "flag needs a value", Err: err}
		for _, f := range fields {
			if f.flag == re.GetSpecifiedName() {
				e.Key = f.key
			}
		}
		return e
	}
	return &Error{Kind: ErrMalformed, Source: Source{Origin: OriginFlag}, Detail: err.Error(), Err: err}
}

// hintRenamed suggests the right name for a misspelt variable or flag: the
// override of a key whose derived name was used, else the nearest name.
func hintRenamed(name string, fields []field, env bool, names []string) string {
	for _, f := range fields {
		derived, actual := "--"+f.derivedFlag, "--"+f.flag
		if env {
			derived, actual = f.derivedEnv, f.env
		}
		if name == derived && derived != actual {
			return fmt.Sprintf(" (did you mean %s?)", actual)
		}
	}
	return hint(name, names)
}

// hint suggests the known name nearest to name, if one is near.
func hint(name string, known []string) string {
	if len(name) > 64 {
		return "" // not a typo; and edit distance is quadratic
	}
	best, bestD := "", -1
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD < 0 || bestD > max(2, len(name)/5) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkShape bounds the parts of each key and the nesting of arrays and
// inline tables in a TOML document, skipping strings and comments. It is a
// conservative scan, not a parser: the TOML parser still decides what is
// valid.
func checkShape(data []byte) error {
	var open []byte   // the '[' and '{' of the values being read
	inKey := true     // reading a key: at a line start, after '{' or ',' in an inline table
	inHeader := false // reading a [table] or [[array]] header
	parts := 1        // parts of the key being read
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			i = skipString(data, i)
		case '\n':
			if len(open) == 0 {
				inKey, inHeader, parts = true, false, 1
			}
		case '=':
			inKey, parts = false, 1
		case '.':
			if inKey || inHeader {
				if parts++; parts > maxKeyParts {
					return fmt.Errorf("a key has more than %d dotted parts", maxKeyParts)
				}
			}
		case '[':
			switch {
			case inHeader:
			case inKey && len(open) == 0:
				inHeader, parts = true, 1
			default:
				if open = append(open, c); len(open) > maxNesting {
					return fmt.Errorf("arrays and inline tables nest deeper than %d", maxNesting)
				}
			}
		case ']':
			if inHeader {
				inHeader, inKey = false, false
			} else if len(open) > 0 {
				open = open[:len(open)-1]
			}
		case '{':
			if open = append(open, c); len(open) > maxNesting {
				return fmt.Errorf("arrays and inline tables nest deeper than %d", maxNesting)
			}
			inKey, parts = true, 1
		case '}':
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
			inKey = false
		case ',':
			if len(open) > 0 && open[len(open)-1] == '{' {
				inKey, parts = true, 1
			}
		}
	}
	return nil
}

// skipString returns the index of the last byte of the string that starts
// at data[i]: basic or literal, single- or multi-line. An unterminated
// string runs to the end of its line (single-line) or of the data.
func skipString(data []byte, i int) int {
	q := data[i]
	multi := i+2 < len(data) && data[i+1] == q && data[i+2] == q
	if multi {
		i += 2
	}
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '\\' && q == '"':
			i++ // skip the escaped byte
		case c == '\n' && !multi:
			return i - 1
		case c == q && !multi:
			return i
		case c == q && i+2 < len(data) && data[i+1] == q && data[i+2] == q:
			// The closing quotes; up to two more belong to the content.
			end := i + 2
			for end+1 < len(data) && data[end+1] == q && end-i < 4 {
				end++
			}
			return end
		}
	}
	return len(data) - 1
}
