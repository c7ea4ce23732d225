-- The sign-in limits now count an IPv6 address by its /64 and an IPv4
-- address written in IPv6 form (::ffff:a.b.c.d) as the IPv4 address
-- (`throttle::ip_key`). The networks owners signed in from before are
-- keyed the same way, so they keep their exemption. (Failures and email
-- requests are kept for an hour only and need no rewrite.)
INSERT INTO login_known_ips (email_key, ip, last_at)
SELECT email_key,
       CASE WHEN ip ILIKE '::ffff:%.%' THEN substr(ip, 8)
            ELSE network(set_masklen(ip::inet, 64))::text END,
       max(last_at)
  FROM login_known_ips
 WHERE ip LIKE '%:%' AND ip NOT LIKE '%/%'
 GROUP BY 1, 2
    ON CONFLICT (email_key, ip)
    DO UPDATE SET last_at = greatest(login_known_ips.last_at, excluded.last_at);
DELETE FROM login_known_ips WHERE ip LIKE '%:%' AND ip NOT LIKE '%/%';
