package natsembed_test

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/internal/natsembed"
)

func ExampleStart() {
	ns, err := natsembed.Start(&server.Options{MaxPayload: natsembed.MaxPayload})
	if err != nil {
		panic(err)
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	sub, _ := nc.SubscribeSync("levy.hello")
	nc.Publish("levy.hello", []byte("hello"))
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s, max payload %d MiB\n", m.Data, nc.MaxPayload()>>20)
	// Output: hello, max payload 8 MiB
}
