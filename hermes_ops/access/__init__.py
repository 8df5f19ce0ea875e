"""Access to the host for a new operator: their SSH key, their request, the admin's grant and revoke.

A new operator creates a key (`operator_key`) and writes an access request file
(`requests`); the admin reads it, checks the key (`public_keys`) and adds it to `core`'s
authorized_keys on the host, optionally until an expiry time (`durations`), or lists
and revokes the keys there (`authorized_keys`).

These modules are pure logic: no SSH and no host I/O (local file I/O only in `requests`
and `operator_key`). Where they read a format OpenSSH owns (public key lines, the
authorized_keys file and its options, expiry times), OpenSSH is the judge: they follow
sshd's and ssh-keygen's rules, and the tests compare their verdicts with ssh-keygen's.
Running the edits on the host is the runbook's job.
"""
