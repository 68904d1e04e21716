// The polyglot greeter (wit/greeter.wit) in Go.
//
// `cargo xtask guests --lang go` generates the rest of the module with
// wit-bindgen's Go generator (the `main` package exporting `greet` and
// `transform`, and `airssys_host_logging` for the import) and builds it for
// GOOS=wasip1 as a reactor; this package holds the exported functions.
package export_wit_world

import (
	"wit_component/airssys_host_logging"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// Greet returns "Hello, <name>!" and logs the greeting through the host.
func Greet(name string) string {
	fields := []witTypes.Tuple2[string, string]{{F0: "lang", F1: "go"}}
	// A refused record (rate limit) must not fail the greeting: the
	// result is dropped.
	_ = airssys_host_logging.Log(airssys_host_logging.LevelInfo, "greeting "+name, fields)
	return "Hello, " + name + "!"
}

// Transform returns data reversed, each byte plus one (255 wraps to 0).
func Transform(data []uint8) []uint8 {
	out := make([]uint8, len(data))
	for i, b := range data {
		out[len(data)-1-i] = b + 1
	}
	return out
}
