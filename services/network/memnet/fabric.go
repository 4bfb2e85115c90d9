package memnet

import (
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// pair is an unordered pair of peers.
type pair struct{ a, b peer.ID }

func pairOf(a, b peer.ID) pair {
	if b < a {
		a, b = b, a
	}
	return pair{a, b}
}

// Fabric is the in-process network the nodes of one test share: a mocknet
// on which every running node is linked to every other, except for the
// pairs a partition or a node's Block cut. A cut pair has no link, so
// neither side can dial the other (the mocknet's equivalent of a connection
// gater), and it stays cut for nodes that restart meanwhile. Mocknet lets a
// stream be opened on a connection that is being closed, so a stream can
// outlive a cut; the nodes' stacks therefore also drop traffic from a peer
// the fabric says is cut.
type Fabric struct {
	mn mocknet.Mocknet

	mu        sync.Mutex
	live      map[peer.ID]bool
	partition map[pair]bool
	blocks    map[pair]map[peer.ID]bool // which side(s) blocked the pair
}

// NewFabric makes an empty fabric on a new mocknet.
func NewFabric() *Fabric {
	return &Fabric{
		mn:        mocknet.New(),
		live:      map[peer.ID]bool{},
		partition: map[pair]bool{},
		blocks:    map[pair]map[peer.ID]bool{},
	}
}

// Mocknet is the fabric's mocknet.
func (f *Fabric) Mocknet() mocknet.Mocknet { return f.mn }

// Close closes the mocknet (and every host still on it).
func (f *Fabric) Close() error { return f.mn.Close() }

func (f *Fabric) cut(p pair) bool { return f.partition[p] || len(f.blocks[p]) > 0 }

// isCut reports whether the pair (a, b) is cut, by a partition or a block.
func (f *Fabric) isCut(a, b peer.ID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cut(pairOf(a, b))
}

// linkLocked links a and b unless they already are. Holds f.mu.
func (f *Fabric) linkLocked(a, b peer.ID) error {
	if len(f.mn.LinksBetweenPeers(a, b)) > 0 {
		return nil
	}
	_, err := f.mn.LinkPeers(a, b)
	return err
}

// unlinkLocked removes every link between a and b and closes their
// connections; a connection whose dial passed the link check just before
// the unlink is closed by the second pass. Holds f.mu.
func (f *Fabric) unlinkLocked(a, b peer.ID) error {
	if len(f.mn.LinksBetweenPeers(a, b)) > 0 {
		if err := f.mn.UnlinkPeers(a, b); err != nil {
			return err
		}
	}
	return f.disconnectLocked(a, b)
}

func (f *Fabric) disconnectLocked(a, b peer.ID) error {
	if !f.live[a] || !f.live[b] {
		return nil
	}
	for range 2 {
		if err := f.mn.DisconnectPeers(a, b); err != nil {
			return err
		}
		if err := f.mn.DisconnectPeers(b, a); err != nil {
			return err
		}
	}
	return nil
}

// join links a node that starts to every live node it is not cut from.
func (f *Fabric) join(p peer.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live[p] = true
	var errs []error
	for q := range f.live {
		if q != p && !f.cut(pairOf(p, q)) {
			errs = append(errs, f.linkLocked(p, q))
		}
	}
	return errors.Join(errs...)
}

// leave unlinks a node that stops from every other, so dials to it fail at
// once as they would to a vanished host.
func (f *Fabric) leave(p peer.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for q := range f.live {
		if q != p && len(f.mn.LinksBetweenPeers(p, q)) > 0 {
			errs = append(errs, f.mn.UnlinkPeers(p, q))
		}
	}
	delete(f.live, p)
	return errors.Join(errs...)
}

// Partition cuts every pair (x in a, y in b): their links are removed and
// their connections closed, so no message crosses until Heal.
func (f *Fabric) Partition(a, b []peer.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			if x != y {
				f.partition[pairOf(x, y)] = true
			}
		}
	}
	var errs []error
	for _, x := range a {
		for _, y := range b {
			if x != y && len(f.mn.LinksBetweenPeers(x, y)) > 0 {
				errs = append(errs, f.mn.UnlinkPeers(x, y))
			}
		}
	}
	for _, x := range a {
		for _, y := range b {
			if x != y {
				errs = append(errs, f.disconnectLocked(x, y))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("memnet: partition: %w", err)
	}
	return nil
}

// Heal undoes Partition(a, b): the pairs are linked again (unless a node
// blocked its peer) and the nodes' redial loops reconnect them.
func (f *Fabric) Heal(a, b []peer.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, x := range a {
		for _, y := range b {
			p := pairOf(x, y)
			delete(f.partition, p)
			if x != y && f.live[x] && f.live[y] && !f.cut(p) {
				errs = append(errs, f.linkLocked(x, y))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("memnet: heal: %w", err)
	}
	return nil
}

// block cuts the pairs (self, p) on self's behalf.
func (f *Fabric) block(self peer.ID, ps []peer.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, p := range ps {
		k := pairOf(self, p)
		if f.blocks[k] == nil {
			f.blocks[k] = map[peer.ID]bool{}
		}
		f.blocks[k][self] = true
		errs = append(errs, f.unlinkLocked(self, p))
	}
	return errors.Join(errs...)
}

// unblock lifts self's cuts of (self, p) and relinks what is no longer cut.
func (f *Fabric) unblock(self peer.ID, ps []peer.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, p := range ps {
		k := pairOf(self, p)
		delete(f.blocks[k], self)
		if len(f.blocks[k]) == 0 {
			delete(f.blocks, k)
		}
		if f.live[self] && f.live[p] && !f.cut(k) {
			errs = append(errs, f.linkLocked(self, p))
		}
	}
	return errors.Join(errs...)
}
