package atomicfile_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/levy-ml/levy/internal/atomicfile"
)

func Example() {
	dir, err := os.MkdirTemp("", "atomicfile-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "metrics.json")
	if err := atomicfile.WriteFile(path, []byte(`{"step": 10}`+"\n"), 0o644); err != nil {
		panic(err)
	}
	// The streaming form, for encoders that write to an io.Writer.
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "{\"step\": %d}\n", 20)
		return err
	})
	if err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(path)
	entries, _ := os.ReadDir(dir)
	fmt.Printf("%s%d file(s) in the directory\n", b, len(entries))
	// Output:
	// {"step": 20}
	// 1 file(s) in the directory
}
