package wiring

import (
	"reflect"
	"testing"
)

// FuzzLoadFile feeds arbitrary bytes to the loader as the TOML file. It
// must never panic; a failure returns the zero Config and typed errors; a
// success is a valid Config that String prints and the loader reads back
// unchanged.
func FuzzLoadFile(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxFileSize {
			t.Skip("readFile refuses files this large")
		}
		c, err := resolve("fuzz.toml", data, nil, nil)
		if err != nil {
			if !reflect.DeepEqual(c, Config{}) {
				t.Fatalf("error %v came with a non-zero Config", err)
			}
			for _, e := range errorList(err) {
				if _, ok := e.(*Error); !ok {
					t.Fatalf("error %v (%T) is not a *wiring.Error", e, e)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded config does not validate: %v", err)
		}
		back, err := resolve("printed.toml", []byte(c.String()), nil, nil)
		if err != nil {
			t.Fatalf("printed config does not load: %v\n%s", err, c)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("printed config loads differently:\ngot  %#v\nwant %#v", back, c)
		}
	})
}
