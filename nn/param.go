package nn

// Param is a named weight tensor. Data aliases the network's live flat
// weights (or, for a gradient, the trainer's flat gradient): writing it
// changes them.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}
