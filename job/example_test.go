package job_test

import (
	"fmt"

	"github.com/levy-ml/levy/job"
)

// ExampleParse reads a short YAML spec: the fields it leaves out take the
// default job's values, and the sampler follows the method.
func ExampleParse() {
	spec, err := job.Parse([]byte(`
name: lim-sas2d
method: lim
alpha: 1.8
dataset: sas2d
steps: 500
`))
	if err != nil {
		panic(err)
	}
	fmt.Println(spec.Name, spec.Method, spec.Alpha, spec.Dataset, spec.Steps)
	fmt.Println("global batch", spec.GlobalBatch, "lr", spec.LR, "seed", spec.Seed)
	fmt.Println("sampler", spec.Sample.Sampler, "steps", spec.Sample.Steps)
	// Output:
	// lim-sas2d lim 1.8 sas2d 500
	// global batch 1024 lr 0.005 seed 1
	// sampler lim-sde steps 100
}

// ExampleParse_invalid shows that a bad value is refused before anything
// starts, with the field named.
func ExampleParse_invalid() {
	_, err := job.Parse([]byte("alpha: 2.5\n"))
	fmt.Println(err)

	_, err = job.Parse([]byte("alpah: 1.5\n"))
	fmt.Println(err)
	// Output:
	// job: invalid spec: field "alpha" = 2.5: want a tail index in (0, 2]
	// job: invalid spec: line 1 ("alpah: 1.5"): unknown field "alpah"
}
