package worker

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/internal/natstest"
	"github.com/levy-ml/levy/internal/wire"
)

// TestReportDoneEndsOnAnAnswerOrAnEnd: with no coordinator answering,
// reportDone goes on reporting; an end of the job from a deposed leader
// (a lower term) or of another job does not stop it; an end from the
// current leader does, and so does a coordinator that answers.
//
// Defect 6 (unit level; local's TestDoneIsReportedUntilACoordinatorHearsIt
// is the end-to-end test). On the old protocol TestReproDoneReportIsAbandoned
// showed reportDone giving up after 15.1 s. The rewrite reports without
// end, but a new leader that found the job finished on storage ended it
// (CmdEnd) without answering any report, and the workers then reported
// for ever: reportDone now stops on that CmdEnd.
func TestReportDoneEndsOnAnAnswerOrAnEnd(t *testing.T) {
	_, url := natstest.Start(t, nil)
	conn := func() *nats.Conn { return natstest.Connect(t, url) }
	wc := DefaultConfig()
	wc.ID, wc.NATS = "w0", conn()
	w, err := New(wc)
	if err != nil {
		t.Fatal(err)
	}
	w.maxTerm.Store(3) // the leader that assigned the ring
	tc := conn()
	report := func() <-chan struct{} {
		ch := make(chan struct{})
		go func() {
			defer close(ch)
			w.reportDone(context.Background(), &wire.Done{Sender: w.sender(), Job: "outage", Generation: 1, Rank: 0, Step: 40})
		}()
		return ch
	}
	end := func(job string, term uint64) {
		b, err := wire.Encode(&wire.Command{Term: term, Job: job, Kind: wire.CmdEnd})
		if err != nil {
			t.Fatal(err)
		}
		tc.Publish(wire.ControlSubject(job), b)
		tc.Flush()
	}
	still := func(ch <-chan struct{}, why string) {
		t.Helper()
		select {
		case <-ch:
			t.Fatalf("reportDone returned after %s", why)
		case <-time.After(time.Second):
		}
	}

	returned := report()
	time.Sleep(300 * time.Millisecond) // subscribed
	still(returned, "nothing")
	end("outage", 2)
	still(returned, "an end from a deposed leader (term 2 < 3)")
	end("other", 3)
	still(returned, "the end of another job")
	t0 := time.Now()
	end("outage", 3)
	select {
	case <-returned:
		t.Logf("the leader's end of the job stopped the reports after %v", time.Since(t0).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("reportDone goes on after the leader ended the job")
	}

	returned = report()
	still(returned, "nothing")
	t0 = time.Now()
	if _, err := tc.Subscribe(wire.MemberSubject("outage", wire.ReportDone, "w0"), func(m *nats.Msg) { m.Respond([]byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
		t.Logf("a coordinator answering stopped the reports after %v", time.Since(t0).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("reportDone goes on after a coordinator answered")
	}
}
