package samplers

import (
	"slices"
	"testing"
)

// TestEverySamplerFitsOneMethod: the compatibility table pairs each
// sampler with exactly one training method, and Compatible hands out a
// copy (a caller cannot edit the table).
func TestEverySamplerFitsOneMethod(t *testing.T) {
	for _, s := range Names {
		n := 0
		for _, m := range Methods {
			if Fits(m, s) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("sampler %s fits %d methods, want 1", s, n)
		}
	}
	for _, m := range Methods {
		c := Compatible(m)
		if len(c) == 0 {
			t.Errorf("Compatible(%s) is empty", m)
		}
		for _, s := range c {
			if !slices.Contains(Names, s) {
				t.Errorf("Compatible(%s) holds the unknown sampler %q", m, s)
			}
		}
		c[0] = "edited"
		if Compatible(m)[0] == "edited" {
			t.Fatal("Compatible returned the table itself")
		}
	}
	if Compatible("nope") != nil || Fits("nope", DLPM) {
		t.Error("an unknown method fits a sampler")
	}
}
