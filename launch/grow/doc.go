// Package grow is what every local-cluster launcher does once node 1 has bootstrapped and the
// owner holds the cluster: register the other nodes, approve them, make the first three
// consensus members, and wait for all to be UP and healthy, printing each step. The launchers
// (launch/hosted: processes in namespaces; launch/qemu: VMs) differ only in how a node is
// started and how they tell that one died, which they give as Machines.
package grow
