-- Readable features from the coded Statlog (German Credit) attributes.
-- Input `raw` is the raw snapshot (space-separated, no header: column00..column20).
-- Codes are translated with the published code book (values_maps.json).
SELECT
    CASE column00 WHEN 'A11' THEN '... < 0 DM' WHEN 'A12' THEN '0 <= ... < 200 DM' WHEN 'A13' THEN '... >= 200 DM / salary assignments for at least 1 year' WHEN 'A14' THEN 'no checking account' END AS checking_account,
    column01 AS duration_months,
    CASE column02 WHEN 'A30' THEN 'no credits taken/ all credits paid back duly' WHEN 'A31' THEN 'all credits at this bank paid back duly' WHEN 'A32' THEN 'existing credits paid back duly till now' WHEN 'A33' THEN 'delay in paying off in the past' WHEN 'A34' THEN 'critical account/ other credits existing (not at this bank)' END AS credit_history,
    CASE column03 WHEN 'A40' THEN 'car (new)' WHEN 'A41' THEN 'car (used)' WHEN 'A42' THEN 'furniture/equipment' WHEN 'A43' THEN 'radio/television' WHEN 'A44' THEN 'domestic appliances' WHEN 'A45' THEN 'repairs' WHEN 'A46' THEN 'education' WHEN 'A47' THEN '(vacation - does not exist?)' WHEN 'A48' THEN 'retraining' WHEN 'A49' THEN 'business' WHEN 'A410' THEN 'others' END AS purpose,
    column04 AS credit_amount,
    CASE column05 WHEN 'A61' THEN '... < 100 DM' WHEN 'A62' THEN '100 <= ... < 500 DM' WHEN 'A63' THEN '500 <= ... < 1000 DM' WHEN 'A64' THEN '.. >= 1000 DM' WHEN 'A65' THEN 'unknown/ no savings account' END AS savings,
    CASE column06 WHEN 'A71' THEN 'unemployed' WHEN 'A72' THEN '... < 1 year' WHEN 'A73' THEN '1 <= ... < 4 years' WHEN 'A74' THEN '4 <= ... < 7 years' WHEN 'A75' THEN '.. >= 7 years' END AS employment_since,
    column07 AS installment_rate_pct,
    CASE WHEN column08 IN ('A92', 'A95') THEN 'female' ELSE 'male' END AS sex,
    CASE column08 WHEN 'A91' THEN 'divorced/separated' WHEN 'A92' THEN 'divorced/separated/married' WHEN 'A93' THEN 'single' WHEN 'A94' THEN 'married/widowed' WHEN 'A95' THEN 'single' END AS personal_status,
    CASE column09 WHEN 'A101' THEN 'none' WHEN 'A102' THEN 'co-applicant' WHEN 'A103' THEN 'guarantor' END AS other_debtors,
    column10 AS residence_since_years,
    CASE column11 WHEN 'A121' THEN 'real estate' WHEN 'A122' THEN 'building society savings agreement / life insurance' WHEN 'A123' THEN 'car or other' WHEN 'A124' THEN 'unknown / no property' END AS property,
    column12 AS age_years,
    CASE WHEN column12 < 25 THEN 'under 25' ELSE '25 and over' END AS age_group,
    CASE column13 WHEN 'A141' THEN 'bank' WHEN 'A142' THEN 'stores' WHEN 'A143' THEN 'none' END AS other_installment_plans,
    CASE column14 WHEN 'A151' THEN 'rent' WHEN 'A152' THEN 'own' WHEN 'A153' THEN 'for free' END AS housing,
    column15 AS existing_credits,
    CASE column16 WHEN 'A171' THEN 'unemployed/ unskilled - non-resident' WHEN 'A172' THEN 'unskilled - resident' WHEN 'A173' THEN 'skilled employee/ official' WHEN 'A174' THEN 'management/ self-employed/ highly qualified employee/ officer' END AS job,
    column17 AS people_liable,
    column18 = 'A192' AS has_telephone,
    column19 = 'A201' AS foreign_worker,
    CASE column20 WHEN 1 THEN 'good' WHEN 2 THEN 'bad' END AS credit_risk,
    CAST(column20 = 2 AS INTEGER) AS bad_credit
FROM raw
