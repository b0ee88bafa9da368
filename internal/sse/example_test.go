package sse_test

import (
	"bufio"
	"fmt"
	"os"

	"github.com/stellarfeed/stellarfeed/internal/sse"
	"github.com/stellarfeed/stellarfeed/internal/wire"
)

func Example() {
	hub := sse.New(sse.Config{FirstID: 1})
	only, _ := sse.NewFilter([]string{"amazon"}, nil, nil)
	sub, _ := hub.Subscribe(sse.SubscribeOptions{KeyID: "k1", Filter: only})

	hub.Publish(wire.FromPayload("amazon", "USA", []byte(`{"site":"amazon","region":"USA"}`)))
	hub.Publish(wire.FromPayload("walmart", "", []byte(`{"site":"walmart"}`)))
	hub.Close() // shutdown: the stream ends after what was queued

	w := bufio.NewWriter(os.Stdout)
	err := sub.Stream(w, nil)
	fmt.Println(err)
	// Output:
	// : stellarfeed ping stream
	//
	// id: 1
	// event: ping
	// data: {"site":"amazon","region":"USA"}
	//
	// : stream closed: sse: hub closed
	//
	// sse: hub closed
}
