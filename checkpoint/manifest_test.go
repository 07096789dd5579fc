package checkpoint

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

const goodSHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

const validManifest = `{
  "format": 1,
  "job": {"name": "grid9-dlpm", "alpha": 1.7, "workers": [0, 1], "note": "<a&b>"},
  "step": 640,
  "epoch": 20,
  "rng": {"seed": 18446744073709551615, "scheme": "pcg(splitmix(seed,tag,step,index))", "next_step": 640},
  "files": {
    "model.safetensors": {"bytes": 1234, "sha256": "` + goodSHA + `"},
    "ema.safetensors": {"bytes": 0, "sha256": "` + goodSHA + `"}
  },
  "created": "2026-11-23T22:00:00.123456789+01:00",
  "extra": {"loss": "0.0314"}
}
`

func TestParseManifestValid(t *testing.T) {
	m, err := ParseManifest([]byte(validManifest))
	if err != nil {
		t.Fatal(err)
	}
	want := Manifest{
		Format: 1,
		Job:    json.RawMessage(`{"name":"grid9-dlpm","alpha":1.7,"workers":[0,1],"note":"<a&b>"}`),
		Step:   640, Epoch: 20,
		RNG: RNGState{Seed: 1<<64 - 1, Scheme: "pcg(splitmix(seed,tag,step,index))", Next: 640},
		Files: map[string]FileInfo{
			"model.safetensors": {1234, goodSHA},
			"ema.safetensors":   {0, goodSHA},
		},
		Created: time.Date(2026, 11, 23, 21, 0, 0, 123456789, time.UTC),
		Extra:   map[string]string{"loss": "0.0314"},
	}
	if !manifestsEqual(m, &want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	// Without extra (and with an empty one) Extra is nil.
	for _, extra := range []string{`,"extra":{}`, `,"extra":null`, ``} {
		s := `{"format":1,"job":{},"step":0,"epoch":0,"rng":{"seed":0,"scheme":"","next_step":0},` +
			`"files":{"a.safetensors":{"bytes":8,"sha256":"` + goodSHA + `"}},"created":"0001-01-01T00:00:00Z"` + extra + `}`
		m, err := ParseManifest([]byte(s))
		if err != nil || m.Extra != nil {
			t.Errorf("%s: %v, extra %#v", extra, err, m)
		}
	}
}

func TestParseManifestRejects(t *testing.T) {
	cases := map[string]struct{ from, to, wantErr string }{
		"unknown field":      {`"epoch": 20,`, `"epoch": 20, "loss": 1,`, "unknown field"},
		"unknown rng field":  {`"next_step": 640`, `"next_step": 640, "state": 3`, "unknown field"},
		"unknown file field": {`"bytes": 0,`, `"bytes": 0, "crc": 1,`, "unknown field"},
		"format 0":           {`"format": 1`, `"format": 0`, "manifest format: 0, want 1"},
		"format 2":           {`"format": 1`, `"format": 2`, "manifest format: 2"},
		"format string":      {`"format": 1`, `"format": "1"`, "manifest JSON"},
		"negative step":      {`"step": 640`, `"step": -1`, "manifest step: -1"},
		"fractional step":    {`"step": 640`, `"step": 6.5`, "manifest JSON"},
		"negative epoch":     {`"epoch": 20`, `"epoch": -3`, "manifest epoch: -3"},
		"negative next step": {`"next_step": 640`, `"next_step": -2`, "rng.next_step: -2"},
		"job array":          {`"job": {`, `"job": [{`, "manifest"},
		"job string":         {`"job": {"name": "grid9-dlpm", "alpha": 1.7, "workers": [0, 1], "note": "<a&b>"}`, `"job": "x"`, "manifest job"},
		"job null":           {`"job": {"name": "grid9-dlpm", "alpha": 1.7, "workers": [0, 1], "note": "<a&b>"}`, `"job": null`, `manifest job: "null", want a JSON object`},
		"no job":             {`"job": {"name": "grid9-dlpm", "alpha": 1.7, "workers": [0, 1], "note": "<a&b>"},`, ``, "manifest job: missing"},
		"short sha":          {`"bytes": 1234, "sha256": "9f86`, `"bytes": 1234, "sha256": "9f8`, `files["model.safetensors"].sha256`},
		"upper-case sha":     {`"bytes": 1234, "sha256": "9f86`, `"bytes": 1234, "sha256": "9F86`, `files["model.safetensors"].sha256`},
		"negative bytes":     {`"bytes": 1234`, `"bytes": -1`, `files["model.safetensors"].bytes: -1`},
		"bad file name":      {`"ema.safetensors"`, `"ema/x.safetensors"`, "without path separators"},
		"manifest as a file": {`"ema.safetensors"`, `"manifest.json"`, `must end in ".safetensors"`},
		"no files":           {`"files": {`, `"files": {}, "x": {`, "unknown field"},
		"trailing data":      {"0.0314\"}\n}", "0.0314\"}\n} {}", "after the top-level object"},
		"trailing brace":     {"0.0314\"}\n}", "0.0314\"}\n}}", "after the top-level object"},
		"bad time":           {`2026-11-23T22`, `2026-13-23T22`, "manifest JSON"},
		"extra not strings":  {`"loss": "0.0314"`, `"loss": 0.0314`, "manifest JSON"},
	}
	for name, tc := range cases {
		s := strings.Replace(validManifest, tc.from, tc.to, 1)
		if s == validManifest {
			t.Fatalf("%s: %q not in the manifest", name, tc.from)
		}
		_, err := ParseManifest([]byte(s))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, tc.wantErr)
		}
	}
	for _, s := range []string{"", "null", "[]", "{}", "1", `{"format":1}`, "\xff"} {
		if _, err := ParseManifest([]byte(s)); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
	m, _ := ParseManifest([]byte(validManifest))
	m.Files = nil
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "manifest files: empty") {
		t.Errorf("no files: %v", err)
	}
}

// manifestsEqual compares field by field, times by instant.
func manifestsEqual(a, b *Manifest) bool {
	ac, bc := *a, *b
	ac.Created, bc.Created = time.Time{}, time.Time{}
	return a.Created.Equal(b.Created) && reflect.DeepEqual(ac, bc)
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(a, b []byte) bool {
	var av, bv any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	return da.Decode(&av) == nil && db.Decode(&bv) == nil && reflect.DeepEqual(av, bv)
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(validManifest))
	m, err := ParseManifest([]byte(validManifest))
	if err != nil {
		f.Fatal(err)
	}
	b, err := marshalManifest(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	compact, _ := json.Marshal(m)
	f.Add(compact)
	for _, edit := range [][2]string{
		{`"format": 1`, `"format": 2`},
		{`"step": 640`, `"step": -1`},
		{`"step": 640`, `"step": 1e3`},
		{`"epoch": 20,`, `"epoch": 20, "epoch": 21,`},
		{`"extra": {"loss": "0.0314"}`, `"extra": {}`},
		{`"job": {`, `"job": {"deep": [[[[{"a": null}]]]], "u": "\u00e9\u2028\ud83d\ude00", `},
		{`"job": {`, `"job": {"big": 1e400, "neg": -0.0, `},
		{`"ema.safetensors"`, `"a/b.safetensors"`},
		{`+01:00`, `Z`},
		{`+01:00`, `-23:59`},
		{"0.0314\"}\n}", "0.0314\"}\n} x"},
		{`"seed": 18446744073709551615`, `"seed": 18446744073709551616`},
	} {
		f.Add([]byte(strings.Replace(validManifest, edit[0], edit[1], 1)))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		// What parses must re-encode (both ways) and parse back equal.
		enc, err := marshalManifest(m)
		if err != nil {
			t.Fatalf("marshalManifest: %v", err)
		}
		m2, err := ParseManifest(enc)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, enc)
		}
		if !manifestsEqual(m, m2) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m, m2)
		}
		std, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		m3, err := ParseManifest(std)
		if err != nil {
			t.Fatalf("re-parse json.Marshal output: %v\n%s", err, std)
		}
		if !jsonEqual(m.Job, m3.Job) {
			t.Fatalf("job changed: %s → %s", m.Job, m3.Job)
		}
		m3.Job = m.Job
		if !manifestsEqual(m, m3) {
			t.Fatalf("json.Marshal round trip changed the manifest:\n%+v\n%+v", m, m3)
		}
	})
}
