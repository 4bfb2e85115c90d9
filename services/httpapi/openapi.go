package httpapi

import (
	"net/http"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// OpenAPI returns the OpenAPI 3.0 document of the listener, generated from
// its route table and the Go types of request and response bodies.
func (a *API) OpenAPI(version string) map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	errSchema := g.schema(reflect.TypeOf(ErrorBody{}))
	paths := map[string]any{}
	for _, rt := range a.routes {
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.Summary,
			"responses":   map[string]any{},
		}
		if rt.Description != "" {
			op["description"] = rt.Description
		}
		if rt.Tag != "" {
			op["tags"] = []string{rt.Tag}
		}
		var params []any
		for _, name := range pathParams(rt.Path) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, p := range rt.Params {
			typ := p.Type
			if typ == "" {
				typ = "string"
			}
			params = append(params, map[string]any{"name": p.Name, "in": p.In, "required": p.Required, "description": p.Description, "schema": map[string]any{"type": typ}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if !rt.Public {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		content := map[string]any{}
		if rt.Body != nil && !rt.RawOnly {
			content["application/json"] = map[string]any{"schema": g.schema(reflect.TypeOf(rt.Body))}
		}
		if rt.AlsoRaw || rt.RawOnly {
			content["application/octet-stream"] = map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
		}
		if len(content) > 0 {
			op["requestBody"] = map[string]any{"required": !rt.BodyOptional, "content": content}
		}
		responses := op["responses"].(map[string]any)
		ok := map[string]any{"description": http.StatusText(rt.status())}
		switch {
		case rt.Produces == "application/json":
			ok["content"] = map[string]any{rt.Produces: map[string]any{"schema": map[string]any{"type": "object"}}}
		case rt.Produces != "":
			ok["content"] = map[string]any{rt.Produces: map[string]any{"schema": map[string]any{"type": "string"}}}
		case rt.Response != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Response))}}
		}
		responses[strconv.Itoa(rt.status())] = ok
		for code, body := range rt.Alt {
			responses[strconv.Itoa(code)] = map[string]any{
				"description": http.StatusText(code),
				"content":     map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(body))}},
			}
		}
		errs := append([]int(nil), rt.Errors...)
		if !rt.Public {
			errs = append(errs, http.StatusUnauthorized)
		}
		for _, code := range errs {
			responses[strconv.Itoa(code)] = map[string]any{
				"description": http.StatusText(code),
				"content":     map[string]any{"application/json": map[string]any{"schema": errSchema}},
			}
		}
		p := openAPIPath(rt.Path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": a.title, "version": version},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         g.defs,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
	}
}

var wildcard = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)(\.\.\.)?\}`)

// openAPIPath turns a ServeMux path pattern into an OpenAPI path:
// "/admin/{$}" is "/admin/", "{rest...}" is "{rest}".
func openAPIPath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	return wildcard.ReplaceAllString(p, "{$1}")
}

func pathParams(p string) []string {
	var names []string
	for _, m := range wildcard.FindAllStringSubmatch(p, -1) {
		if m[1] != "$" {
			names = append(names, m[1])
		}
	}
	return names
}

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, part := range strings.Split(strings.Trim(path.Clean(rt.Path), "/"), "/") {
		part = strings.Trim(part, "{}.")
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// schemaGen turns Go types into OpenAPI 3.0 schemas, named structs into
// components (so recursive types such as the actor tree work).
type schemaGen struct{ defs map[string]any }

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeFor[time.Duration]():
		return map[string]any{"type": "integer", "format": "int64", "description": "nanoseconds"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := g.schema(t.Elem())
		if _, isRef := inner["$ref"]; isRef {
			return map[string]any{"allOf": []any{inner}, "nullable": true}
		}
		inner["nullable"] = true
		return inner
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name := path.Base(t.PkgPath()) + "." + t.Name()
		if _, done := g.defs[name]; !done {
			g.defs[name] = map[string]any{} // placeholder: recursion stops here
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{} // any JSON value
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}
