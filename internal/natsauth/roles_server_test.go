package natsauth_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/internal/natsauth"
	"github.com/levy-ml/levy/internal/wire"
)

// Refused publishes: who may not send on subject. A root observer
// subscribed to the subject must get nothing, and who's error handler must
// see a permissions violation.
var refusedPublish = []struct {
	who     natsauth.Identity
	subject string
	why     string
}{
	{w1, wire.CancelSubject, "a worker cancels a job"},
	{w1, wire.SubmitSubject, "a worker submits a job"},
	{w1, wire.NodeSubject("c1", "cancel"), "a worker cancels through a node subject"},
	{w1, wire.ControlSubject("J"), "a worker commands the job's workers"},
	{w1, wire.AssignSubject("w2"), "a worker assigns another"},
	{w1, wire.MemberSubject("J", wire.ReportDone, "w2"), "a worker reports done as w2"},
	{w1, wire.MemberSubject("J", wire.ReportReady, "w2"), "a worker reports ready as w2"},
	{w1, wire.MemberSubject("J", wire.ReportCkpt, "w2"), "a worker announces a checkpoint as w2"},
	{w1, wire.MemberSubject("J", wire.ReportSamples, "w1"), "a worker reports samples"},
	{w1, wire.RingPrefix("J", 1) + ".0.w2", "a worker sends a gradient chunk as w2"},
	{w1, wire.JoinSubject("w2"), "a worker joins as w2"},
	{w1, wire.HeartbeatSubject("w2"), "a worker beats for w2"},
	{w1, wire.CheckpointsSubject("J"), "a worker adopts a checkpoint for the samplers"},
	{w1, "_INBOX.abc.def", "a worker publishes on someone's inbox"},
	{operator, wire.RingPrefix("J", 1) + ".0.w1", "levyctl sends a gradient chunk"},
	{operator, wire.ControlSubject("J"), "levyctl sends a command to workers"},
	{operator, wire.AssignSubject("w1"), "levyctl assigns a worker"},
	{operator, wire.MemberSubject("J", wire.ReportDone, "w1"), "levyctl reports done for a worker"},
	{operator, wire.JoinSubject("w9"), "levyctl joins as a worker"},
	{sampler, wire.MemberSubject("J", wire.ReportDone, "s0"), "a sampler reports done"},
	{sampler, wire.MemberSubject("J", wire.ReportReady, "s0"), "a sampler reports ready"},
	{sampler, wire.MemberSubject("J", wire.ReportCkpt, "s0"), "a sampler announces a checkpoint"},
	{sampler, wire.MemberSubject("J", wire.ReportSamples, "s1"), "a sampler reports as s1"},
	{sampler, wire.CheckpointsSubject("J"), "a sampler adopts a checkpoint"},
	{sampler, wire.RingPrefix("J", 1) + ".0.s0", "a sampler sends a gradient chunk"},
	{coord, wire.RingPrefix("J", 1) + ".0.w1", "a coordinator sends a gradient chunk"},
	{coord, wire.MemberSubject("J", wire.ReportDone, "w1"), "a coordinator reports as a worker"},
	{coord, wire.SubmitSubject, "a coordinator submits a job"},
	{coord, "_INBOX.abc.def", "a coordinator publishes on an inbox it was not asked on"},
}

// Refused subscriptions: who may not listen on filter; root publishes on
// subject (which filter matches) and who must not get it.
var refusedSubscribe = []struct {
	who             natsauth.Identity
	filter, subject string
}{
	{w1, "levy.api.>", wire.CancelSubject},
	{w1, wire.CancelSubject, wire.CancelSubject},
	{w1, wire.AssignSubject("w2"), wire.AssignSubject("w2")},
	{w1, wire.JoinWildcard, wire.JoinSubject("w2")},
	{w1, "levy.>", wire.AssignSubject("w2")},
	{w1, ">", wire.AssignSubject("w2")},
	{sampler, wire.ControlSubject("*"), wire.ControlSubject("J")},
	{sampler, "levy.job.*.ar.>", wire.RingPrefix("J", 1) + ".0.w1"},
	{operator, "levy.job.*.ar.>", wire.RingPrefix("J", 1) + ".0.w1"},
	{operator, wire.AssignSubject("*"), wire.AssignSubject("w1")},
	{coord, "levy.job.*.ar.>", wire.RingPrefix("J", 1) + ".0.w1"},
}

// Allowed flows: from publishes subject, to (subscribed to filter) gets it.
var allowed = []struct {
	from    natsauth.Identity
	subject string
	to      natsauth.Identity
	filter  string
}{
	{coord, wire.AssignSubject("w1"), w1, wire.AssignSubject("w1")},
	{coord, wire.ControlSubject("J"), w1, wire.ControlSubject("J")},
	{coord, wire.CheckpointsSubject("J"), sampler, wire.CheckpointsSubject("*")},
	{w1, wire.HeartbeatSubject("w1"), coord, wire.HeartbeatWildcard},
	{w1, wire.MemberSubject("J", wire.ReportReady, "w1"), coord, wire.MemberSubject("J", wire.ReportReady, "*")},
	{w1, wire.MemberSubject("J", wire.ReportProgress, "w1"), coord, wire.MemberSubject("*", wire.ReportProgress, "*")},
	{w1, wire.MemberSubject("J", wire.ReportCkpt, "w1"), coord, wire.MemberSubject("*", wire.ReportCkpt, "*")},
	{w1, wire.MemberSubject("J", wire.ReportProgress, "w1"), operator, wire.MemberSubject("J", wire.ReportProgress, "*")},
	{w0, wire.RingPrefix("J", 3) + ".1.w0", w1, wire.RingPrefix("J", 3) + ".1.*"},
	{w1, wire.RingPrefix("J", 3) + ".2.w1", w2, wire.RingPrefix("J", 3) + ".2.*"},
	{sampler, wire.MemberSubject("J", wire.ReportSamples, "s0"), coord, wire.MemberSubject("*", wire.ReportSamples, "*")},
	{sampler, wire.MemberSubject("J", wire.ReportSamples, "s0"), operator, wire.MemberSubject("J", wire.ReportSamples, "*")},
}

// Request/reply round trips: requester asks on subject, responder
// (subscribed to filter) answers through allow_responses.
var roundTrips = []struct {
	requester natsauth.Identity
	subject   string
	responder natsauth.Identity
	filter    string
}{
	{w1, wire.JoinSubject("w1"), coord, wire.JoinWildcard},
	{w1, wire.MemberSubject("J", wire.ReportDone, "w1"), coord, wire.MemberSubject("*", wire.ReportDone, "*")},
	{sampler, wire.JoinSubject("s0"), coord, wire.JoinWildcard},
	{operator, wire.SubmitSubject, coord, wire.SubmitSubject},
	{operator, wire.StatusSubject, coord, wire.StatusSubject},
	{operator, wire.CancelSubject, coord, wire.CancelSubject},
	{operator, wire.ResumeSubject, coord, wire.ResumeSubject},
	{operator, wire.NodeSubject("c1", "status"), coord, wire.NodeSubject("c1", "status")},
}

// checkRoles runs every case against the server at url.
func checkRoles(t *testing.T, url string) {
	root := connect(t, url, rootUser, rootPassword)
	conns := map[string]*client{}
	as := func(id natsauth.Identity) *client {
		if c, ok := conns[id.Username()]; ok {
			return c
		}
		c := connectAs(t, url, id)
		conns[id.Username()] = c
		return c
	}

	t.Run("refused publish", func(t *testing.T) {
		for _, c := range refusedPublish {
			t.Run(c.who.Username()+" "+c.subject, func(t *testing.T) {
				sub, err := root.nc.SubscribeSync(c.subject)
				if err != nil {
					t.Fatal(err)
				}
				defer sub.Unsubscribe()
				root.flush(t)
				who := as(c.who)
				if err := who.nc.Publish(c.subject, []byte(c.why)); err != nil {
					t.Fatal(err)
				}
				who.flush(t)
				who.violation(t, fmt.Sprintf("Publish to %q", c.subject))
				root.flush(t)
				if n, _, _ := sub.Pending(); n != 0 {
					t.Errorf("%s: the message reached a subscriber", c.why)
				}
			})
		}
	})

	t.Run("refused subscribe", func(t *testing.T) {
		for _, c := range refusedSubscribe {
			t.Run(c.who.Username()+" "+c.filter, func(t *testing.T) {
				who := as(c.who)
				sub, err := who.nc.SubscribeSync(c.filter)
				if err != nil {
					t.Fatal(err)
				}
				defer sub.Unsubscribe()
				who.flush(t)
				who.violation(t, fmt.Sprintf("Subscription to %q", c.filter))
				if err := root.nc.Publish(c.subject, []byte("secret")); err != nil {
					t.Fatal(err)
				}
				root.flush(t)
				who.flush(t)
				if m, err := sub.NextMsg(50 * time.Millisecond); err == nil {
					t.Errorf("%s got %s on %s", c.who.Username(), m.Data, m.Subject)
				}
			})
		}
	})

	t.Run("allowed", func(t *testing.T) {
		for _, c := range allowed {
			t.Run(c.from.Username()+" "+c.subject+" "+c.to.Username(), func(t *testing.T) {
				from, to := as(c.from), as(c.to)
				sub, err := to.nc.SubscribeSync(c.filter)
				if err != nil {
					t.Fatal(err)
				}
				defer sub.Unsubscribe()
				to.flush(t)
				if err := from.nc.Publish(c.subject, []byte("hello")); err != nil {
					t.Fatal(err)
				}
				from.flush(t)
				m, err := sub.NextMsg(5 * time.Second)
				if err != nil {
					t.Fatalf("%s did not get %s from %s: %v", c.to.Username(), c.subject, c.from.Username(), err)
				}
				if m.Subject != c.subject || string(m.Data) != "hello" {
					t.Errorf("got %q on %s", m.Data, m.Subject)
				}
				from.clean(t)
				to.clean(t)
			})
		}
	})

	t.Run("request reply", func(t *testing.T) {
		for _, c := range roundTrips {
			t.Run(c.requester.Username()+" "+c.subject, func(t *testing.T) {
				req, resp := as(c.requester), as(c.responder)
				sub, err := resp.nc.Subscribe(c.filter, func(m *nats.Msg) {
					m.Respond([]byte("ok " + m.Subject))
					// allow_responses is one reply per request: a second
					// is refused.
					m.Respond([]byte("again"))
				})
				if err != nil {
					t.Fatal(err)
				}
				defer sub.Unsubscribe()
				resp.flush(t)
				r, err := req.nc.Request(c.subject, []byte("?"), 5*time.Second)
				if err != nil {
					t.Fatalf("%s asking on %s: %v", c.requester.Username(), c.subject, err)
				}
				if string(r.Data) != "ok "+c.subject {
					t.Errorf("reply %q", r.Data)
				}
				resp.flush(t)
				resp.violation(t, "Publish to \"_INBOX.")
				req.flush(t)
				req.clean(t)
				resp.clean(t)
			})
		}
	})
}

func TestRolesEmbeddedServer(t *testing.T) { checkRoles(t, startEmbedded(t)) }

func TestRolesConfigFile(t *testing.T) { checkRoles(t, startFromFile(t)) }

func TestRolesNATSServerBinary(t *testing.T) { checkRoles(t, startBinary(t)) }

// TestRolesKeepPasswords: a worker's password does not open another
// worker's user, and a wrong password is refused.
func TestRolesKeepPasswords(t *testing.T) {
	url := startEmbedded(t)
	for _, c := range []struct{ user, password string }{
		{w2.Username(), w1.Password},
		{w1.Username(), "nope"},
		{"w1", w1.Password},
	} {
		nc, err := nats.Connect(url, nats.UserInfo(c.user, c.password))
		if err == nil {
			nc.Close()
			t.Errorf("%s connected with %s's password", c.user, strings.SplitN(c.password, "-", 2)[0])
		}
	}
}
