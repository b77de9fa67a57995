package logtree

import "sync/atomic"

// node is one DN in the tree. Its entries form a list, oldest first, that is
// bounded by the tree's node capacity.
type node struct {
	dn       DN
	parent   *node
	children map[string]*node

	oldest, newest *LogEntry
	count          int

	// readers are the streams attached at this DN (with or without children).
	readers []*subscriber
	// verbosity is the effective V level, read without the tree lock by V().
	verbosity atomic.Int32
}

func newNode(dn DN, parent *node) *node {
	n := &node{dn: dn, parent: parent, children: make(map[string]*node)}
	if parent != nil {
		n.verbosity.Store(parent.verbosity.Load())
	}
	return n
}

// journalLinks place an entry on two doubly linked lists: the tree-wide one
// in write order, and its node's. Both are ordered by seq, so the tree's
// oldest entry is always also the oldest of its node. Embedding the links in
// LogEntry saves an allocation per entry on the logging hot path.
type journalLinks struct {
	node *node
	seq  uint64

	prevGlobal, nextGlobal *LogEntry
	prevNode, nextNode     *LogEntry
}

// journal is the tree-wide list. It is only touched with the tree lock held.
type journal struct {
	oldest, newest *LogEntry
	count          int
	seq            uint64
}

func (j *journal) push(n *node, s *LogEntry) {
	j.seq++
	s.node, s.seq = n, j.seq

	s.prevGlobal = j.newest
	if j.newest != nil {
		j.newest.nextGlobal = s
	} else {
		j.oldest = s
	}
	j.newest = s
	j.count++

	s.prevNode = n.newest
	if n.newest != nil {
		n.newest.nextNode = s
	} else {
		n.oldest = s
	}
	n.newest = s
	n.count++
}

// remove unlinks s from both lists and clears its links, so that an entry a
// reader still holds does not keep a chain of evicted neighbours alive.
func (j *journal) remove(s *LogEntry) {
	if s.prevGlobal != nil {
		s.prevGlobal.nextGlobal = s.nextGlobal
	} else {
		j.oldest = s.nextGlobal
	}
	if s.nextGlobal != nil {
		s.nextGlobal.prevGlobal = s.prevGlobal
	} else {
		j.newest = s.prevGlobal
	}
	j.count--

	n := s.node
	if s.prevNode != nil {
		s.prevNode.nextNode = s.nextNode
	} else {
		n.oldest = s.nextNode
	}
	if s.nextNode != nil {
		s.nextNode.prevNode = s.prevNode
	} else {
		n.newest = s.prevNode
	}
	n.count--

	s.journalLinks = journalLinks{}
}
