package obs

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestServe(t *testing.T) {
	reg := NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "levy_test_gauge", Help: "test"})
	reg.MustRegister(g)
	g.Set(42)
	ctx, cancel := context.WithCancel(context.Background())
	addr, errc, err := Serve(ctx, "127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "levy_test_gauge 42") || !strings.Contains(string(b), "go_goroutines") {
		t.Fatalf("/metrics:\n%.500s", b)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, _, err := Serve(context.Background(), "256.0.0.1:1", reg); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Fatalf("bad address: %v", err)
	}
}
