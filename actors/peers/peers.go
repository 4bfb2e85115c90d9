package peers

import (
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/network"
)

// Name is the subsystem's name in the supervision tree.
const Name = "peers"

// Actor is the peer manager.
type Actor struct {
	clock clock.Clock
	net   network.Network
	since time.Time
}

// New returns the producer the supervisor calls on every (re)start: each
// call makes a fresh Actor.
func New(c clock.Clock, n network.Network) func() actor.Actor {
	return func() actor.Actor { return &Actor{clock: c, net: n} }
}

// Receive implements actor.Actor.
func (a *Actor) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		a.since = a.clock.Now()
	case *messages.StatusRequest:
		h := a.net.Host()
		details := map[string]string{"peer_id": a.net.ID().String(), "listen_addrs": strconv.Itoa(len(a.net.Addrs()))}
		if h != nil {
			details["connected_peers"] = strconv.Itoa(len(h.Network().Peers()))
		}
		c.Respond(&messages.SubsystemStatus{Name: Name, Ready: h != nil, Since: a.since, Details: details})
	}
}
