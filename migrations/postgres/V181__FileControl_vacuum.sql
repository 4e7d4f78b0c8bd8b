-- V181 (PostgreSQL only): stage.FileControl is vacuumed for a queue, not for a big table.
-- Each claim and completion leaves the row's old entries in the small partial indexes
-- (IX_FileControl_Pending, IX_FileControl_Active, IX_FileControl_InProgress) dead, and the
-- claim walks IX_FileControl_Pending from its front. With six months of finished rows (26 M)
-- the defaults let that go on: autovacuum waited for 20 % of the table (5.2 M dead rows),
-- and a VACUUM that found dead rows on under 2 % of the pages skipped the indexes ("index
-- scan bypassed"), so the dead entries stayed: claim+complete fell from 0.92-0.97 of an
-- empty database to 0.15-0.5 after a few busy runs (`bench queue --reuse-scratch`, README).
-- Now every VACUUM cleans the indexes, and autovacuum comes after a fixed number of dead
-- rows whatever the table's size (at 100 runs a minute: about every few hours). SQL Server
-- needs nothing: its ghost cleanup removes deleted index entries as it goes.
ALTER TABLE stage.FileControl SET (
    vacuum_index_cleanup = on,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 50000);
