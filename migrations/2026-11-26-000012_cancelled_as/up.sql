-- In which role a booking was cancelled. `cancelled_by` names the person,
-- but an admin who is also the booking's mentor (or learner) may cancel
-- as either: the emails then said "an administrator" while the admin list
-- and its CSV, comparing ids, said "by the mentor". The role is now
-- recorded when the cancel happens, and every reader uses it.
ALTER TABLE bookings ADD COLUMN cancelled_as text;

-- Existing cancellations: the role their audit entry recorded (every
-- cancel made through the app wrote one, `details.as`; the latest wins),
-- else the old rule by id. One join, not a lookup per booking.
UPDATE bookings b
   SET cancelled_as = r.role
  FROM (SELECT DISTINCT ON (subject_id) subject_id, details ->> 'as' AS role
          FROM audit_log
         WHERE action = 'booking.cancel'
           AND details ->> 'as' IN ('learner', 'mentor', 'admin')
         ORDER BY subject_id, at DESC) r
 WHERE r.subject_id = b.id
   AND b.status = 'cancelled';

UPDATE bookings
   SET cancelled_as = CASE
           WHEN cancelled_by = learner_id THEN 'learner'
           WHEN cancelled_by = mentor_id THEN 'mentor'
           ELSE 'admin'
       END
 WHERE status = 'cancelled'
   AND cancelled_as IS NULL;

ALTER TABLE bookings
    ADD CONSTRAINT bookings_cancelled_as_check
        CHECK (cancelled_as IN ('learner', 'mentor', 'admin')),
    ADD CONSTRAINT bookings_cancelled_as_status_check
        CHECK ((status = 'cancelled') = (cancelled_as IS NOT NULL));
