package block

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Node is the JSON form the API accepts for a dag-cbor node: any JSON value
// as data, and named links to other blocks. It is stored as the dag-cbor map
// {"data": ..., "links": {name: link}} ("links" omitted when empty).
type Node struct {
	Data  json.RawMessage   `json:"data"`
	Links map[string]string `json:"links,omitempty"`
}

// FromJSON makes the dag-cbor block of a Node. JSON numbers become
// integers when they are whole and fit 64 bits, 64-bit floats otherwise;
// each link must be a CID string.
func FromJSON(n Node) (Block, error) {
	node := map[string]any{}
	if len(bytes.TrimSpace(n.Data)) > 0 {
		data, err := jsonValue(n.Data)
		if err != nil {
			return Block{}, err
		}
		node["data"] = data
	} else {
		node["data"] = nil
	}
	if len(n.Links) > 0 {
		links := make(map[string]any, len(n.Links))
		for name, s := range n.Links {
			c, err := Parse(s)
			if err != nil {
				return Block{}, fmt.Errorf("link %q: %w", name, err)
			}
			links[name] = LinkTo(c)
		}
		node["links"] = links
	}
	return Encode(node)
}

// jsonValue converts JSON to the data model, numbers exactly.
func jsonValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: data: %v", ErrInvalidNode, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data: trailing JSON", ErrInvalidNode)
	}
	return numbers(v)
}

func numbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
			if u, err := strconv.ParseUint(s, 10, 64); err == nil {
				return u, nil
			}
			return nil, fmt.Errorf("%w: integer %s does not fit 64 bits", ErrInvalidNode, truncate(s))
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: number %s does not fit a 64-bit float", ErrInvalidNode, truncate(s))
		}
		if f == 0 && strings.ContainsAny(strings.ToLower(s)[:strings.IndexAny(strings.ToLower(s)+"e", "e")], "123456789") {
			return nil, fmt.Errorf("%w: number %s is too small for a 64-bit float", ErrInvalidNode, truncate(s))
		}
		return f, nil
	case map[string]any:
		for k, e := range x {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}

// MaxJSONValues bounds the data-model values of a node ToJSON renders:
// decoded values take many times the bytes they were encoded in.
const MaxJSONValues = 1 << 20

// ToJSON renders a dag-cbor block as DAG-JSON: links as {"/": "<cid>"},
// bytes as {"/": {"bytes": "<base64>"}}, map keys sorted.
func ToJSON(b Block) ([]byte, error) {
	if b.Codec() != DagCBOR {
		return nil, fmt.Errorf("%w: %s is a %s block: it has no JSON form", ErrInvalidNode, b.cid, CodecName(b.Codec()))
	}
	values, err := scan(b.data, nil)
	if err != nil {
		return nil, err
	}
	if values > MaxJSONValues {
		return nil, fmt.Errorf("%w: node of %d values has no JSON form here (at most %d); fetch it as dag-cbor", ErrTooLarge, values, MaxJSONValues)
	}
	v, err := decodeAny(b.data)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(w *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		w.WriteString("null")
	case bool:
		w.WriteString(strconv.FormatBool(x))
	case uint64:
		w.WriteString(strconv.FormatUint(x, 10))
	case int64:
		w.WriteString(strconv.FormatInt(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: NaN or infinity", ErrInvalidNode)
		}
		b, _ := json.Marshal(x)
		w.Write(b)
	case string:
		b, _ := json.Marshal(x)
		w.Write(b)
	case []byte:
		fmt.Fprintf(w, `{"/":{"bytes":%q}}`, base64.RawStdEncoding.EncodeToString(x))
	case Link:
		fmt.Fprintf(w, `{"/":%q}`, x.Cid.String())
	case []any:
		w.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := writeJSON(w, e); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				w.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			w.Write(kb)
			w.WriteByte(':')
			if err := writeJSON(w, x[k]); err != nil {
				return err
			}
		}
		w.WriteByte('}')
	default:
		return fmt.Errorf("%w: %T has no JSON form", ErrInvalidNode, v)
	}
	return nil
}
