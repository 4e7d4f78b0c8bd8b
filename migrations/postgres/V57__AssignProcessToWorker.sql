-- stage.AssignProcessToWorker waits at most 10 s for its advisory lock (and any other
-- lock), as SQL Server's sp_getapplock @LockTimeout = 10000 does since V57: a run stuck
-- inside a caller's open transaction must not pile every later run up behind it. The
-- error (55P03, lock_not_available) is a lock conflict the store retries.
ALTER FUNCTION stage.AssignProcessToWorker(integer) SET lock_timeout = '10s';
