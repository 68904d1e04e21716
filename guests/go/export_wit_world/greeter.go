// The polyglot greeter (wit/greeter.wit) in Go.
//
// `cargo xtask guests --lang go` generates the rest of the module with
// wit-bindgen's Go generator (the `main` package exporting `greet` and
// `transform`, and `airssys_host_logging` for the import) and builds it for
// GOOS=wasip1 as a reactor; this package holds the exported functions.
package export_wit_world

import (
	"runtime"
	"runtime/debug"
	"wit_component/airssys_host_logging"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// Go's collector reads the clocks and polls timers through WASI. If it
// starts inside cabi_realloc (while the host copies arguments in), those
// calls are forbidden by the component model and the call traps with
// "cannot leave component instance" (wasmtime issue 14318; the preview1
// adapter of wasmtime 48 pauses only the monotonic clock). So the collector
// never starts by itself here: each export first collects once the calls
// since the last collection moved collectEvery bytes (arguments and
// results, which is what this guest allocates).
func init() {
	debug.SetGCPercent(-1)
}

const collectEvery = 4 << 20

var moved int

func collect(bytes int) {
	moved += bytes
	if moved >= collectEvery {
		runtime.GC()
		moved = 0
	}
}

// Greet returns "Hello, <name>!" and logs the greeting through the host.
func Greet(name string) string {
	collect(3*len(name) + 64)
	fields := []witTypes.Tuple2[string, string]{{F0: "lang", F1: "go"}}
	// A refused record (rate limit) must not fail the greeting: the
	// result is dropped.
	_ = airssys_host_logging.Log(airssys_host_logging.LevelInfo, "greeting "+name, fields)
	return "Hello, " + name + "!"
}

// Transform returns data reversed, each byte plus one (255 wraps to 0).
func Transform(data []uint8) []uint8 {
	collect(2*len(data) + 64)
	out := make([]uint8, len(data))
	for i, b := range data {
		out[len(data)-1-i] = b + 1
	}
	return out
}
