// Package renewal is the node's one certificate renewal loop. Every certificate a node holds
// for longer than it lasts is renewed by a Loop: the node certificate (swapped in place), its
// etcd member's certificate (the member restarts with the new one), its Kubernetes worker's
// certificates (files the kubelet reads again) and its control plane's component
// certificates (reissued by a restart).
//
// A Loop has one policy for all of them: it sleeps until two thirds of the current
// certificate's lifetime have passed (pki.RenewAt), then asks its Renew function for a
// successor. A failed renewal is logged and tried again after Retry, while the certificate in
// use stays (a due certificate still has a third of its lifetime left); a renewal that needs
// its user restarted ends the loop with Restart's error, for the supervisor to restart what
// runs on the certificate. The loop reads the current certificate again after every wait, so
// a certificate replaced meanwhile by someone else (a join hands out a fresh node certificate)
// is not renewed twice.
//
// Time is injected (Loop.Clock, k8s.io/utils/clock), so tests drive a loop through years of
// renewals with a fake clock instead of sleeping. What a certificate is, where it comes from
// and how it is checked belong to the caller's Current and Renew.
package renewal
