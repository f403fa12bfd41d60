"""Transform & write (the seed's kubecost worker): one tenant-day, extract -> archive ->
load -> check, with its ledger, lease, quality check and replay."""
