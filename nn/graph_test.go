package nn

import (
	"reflect"
	"testing"
	_ "unsafe" // go:linkname

	G "gorgonia.org/gorgonia"
)

// gorgonia's shared constant nodes (const.go), read from the test only.
// The linknames tie this test to gorgonia v0.9.18's internals on purpose:
// after an upgrade that renames them the test stops linking, and
// NewGraph's warm-up must be checked again.
var (
	//go:linkname onef32 gorgonia.org/gorgonia.onef32
	onef32 *G.Node
	//go:linkname onef64 gorgonia.org/gorgonia.onef64
	onef64 *G.Node
	//go:linkname zerof32 gorgonia.org/gorgonia.zerof32
	zerof32 *G.Node
	//go:linkname zerof64 gorgonia.org/gorgonia.zerof64
	zerof64 *G.Node
	//go:linkname twof32 gorgonia.org/gorgonia.twof32
	twof32 *G.Node
	//go:linkname twof64 gorgonia.org/gorgonia.twof64
	twof64 *G.Node
	//go:linkname threef32 gorgonia.org/gorgonia.threef32
	threef32 *G.Node
	//go:linkname threef64 gorgonia.org/gorgonia.threef64
	threef64 *G.Node
	//go:linkname ln2f32 gorgonia.org/gorgonia.ln2f32
	ln2f32 *G.Node
	//go:linkname ln2f64 gorgonia.org/gorgonia.ln2f64
	ln2f64 *G.Node
)

// TestNewGraphWarmsConstants: once NewGraph has returned, every shared
// constant a graph can hash has its hash cached, so building graphs
// afterwards only reads them (whatever ran before in this process).
func TestNewGraphWarmsConstants(t *testing.T) {
	NewGraph()
	for name, n := range map[string]*G.Node{
		"onef32": onef32, "onef64": onef64, "zerof32": zerof32, "zerof64": zerof64, "twof32": twof32,
		"twof64": twof64, "threef32": threef32, "threef64": threef64, "ln2f32": ln2f32, "ln2f64": ln2f64,
	} {
		if !reflect.ValueOf(n).Elem().FieldByName("hashed").Bool() {
			t.Errorf("gorgonia's %s is not hashed after NewGraph", name)
		}
	}
}
