// Addresses and networks are their own module (SeawayNet) so the CNI plugins can use them
// without the Kubernetes model; every user of the model sees them as before.
@_exported import SeawayNet
