package hosted

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"metropolis.dev/metropolis/launch/netns"
)

// Cluster is a hosted cluster on this machine, as recorded in its directory.
type Cluster struct {
	// Name names the cluster, its network and its metroctl context.
	Name string `json:"name"`
	// Dir holds the cluster's record and each node's state, console log and process ID.
	Dir string `json:"-"`
	// NodeBinary is the metropolis-node program the nodes run.
	NodeBinary string `json:"node_binary"`
	// KubeBinary, if set, is the kube binary the nodes run Kubernetes with (passed to them as
	// $METROPOLIS_KUBE_BINARY); empty: the one next to NodeBinary.
	KubeBinary string `json:"kube_binary,omitempty"`
	// Network is the network spec the nodes live on.
	Network netns.Spec `json:"network"`
	// Addresses are the nodes' IP addresses, node 1 first.
	Addresses []string `json:"addresses"`

	net *netns.Network
}

const recordFile = "cluster.json"

// Load reads the record of the cluster in dir.
func Load(dir string) (*Cluster, error) {
	path := filepath.Join(dir, recordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hosted cluster: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Cluster
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("hosted cluster: %s is damaged: %w", path, err)
	}
	if c.Name == "" || len(c.Addresses) == 0 || c.NodeBinary == "" {
		return nil, fmt.Errorf("hosted cluster: %s: name, node_binary and addresses are required", path)
	}
	c.Dir = dir
	return &c, nil
}

func (c *Cluster) save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, recordFile), data, 0o600)
}

// Nodes is the number of nodes in the cluster.
func (c *Cluster) Nodes() int { return len(c.Addresses) }

func (c *Cluster) network() (*netns.Network, error) {
	if c.net == nil {
		n, err := netns.Attach(c.Network)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		c.net = n
	}
	return c.net, nil
}

// SetNodeLink connects (up) or cuts off (down) node i from the network.
func (c *Cluster) SetNodeLink(i int, up bool) error {
	n, err := c.network()
	if err != nil {
		return err
	}
	return n.SetLinkUp(i, up)
}

// Destroy stops every node, removes the network and deletes the cluster's directory. It goes
// on past errors, so that a half-launched or half-destroyed cluster can always be removed,
// and reports them all.
func (c *Cluster) Destroy() error {
	var errs []error
	for i := 1; i <= c.Nodes(); i++ {
		if err := c.KillNode(i, false); err != nil {
			errs = append(errs, err)
		}
	}
	if err := netns.DestroyByName(c.Network.Name); err != nil {
		errs = append(errs, fmt.Errorf("remove network %s: %w", c.Network.Name, err))
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("destroy cluster %s: %v", c.Name, errs)
	}
	return nil
}
