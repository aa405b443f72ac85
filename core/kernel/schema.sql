-- Generated from core/kernel/records.py by `python -m core.kernel.schema_gen`; do not edit.

CREATE TABLE catalog_meta (
	key VARCHAR NOT NULL,
	value VARCHAR NOT NULL,
	PRIMARY KEY (key)
);

CREATE TABLE events (
	seq BIGINT NOT NULL,
	hash VARCHAR NOT NULL,
	ts VARCHAR NOT NULL,
	actor VARCHAR NOT NULL,
	action VARCHAR NOT NULL,
	subjects VARCHAR[] NOT NULL,
	reason VARCHAR NOT NULL,
	body VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE actors (
	name VARCHAR NOT NULL,
	roles VARCHAR[] NOT NULL,
	created_seq BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	updated_seq BIGINT NOT NULL,
	status VARCHAR NOT NULL,
	kind VARCHAR NOT NULL,
	demo BOOLEAN NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE keys (
	key_id VARCHAR NOT NULL,
	actor VARCHAR NOT NULL,
	purpose VARCHAR NOT NULL,
	backend VARCHAR NOT NULL,
	algorithm VARCHAR NOT NULL,
	label VARCHAR NOT NULL,
	handle VARCHAR NOT NULL,
	public_key_digest VARCHAR NOT NULL,
	public_pem VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	created_seq BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	status_seq BIGINT,
	status_at VARCHAR,
	status_reason VARCHAR,
	replaced_by VARCHAR,
	certified BOOLEAN NOT NULL,
	compromised_since VARCHAR,
	PRIMARY KEY (key_id)
);

CREATE TABLE edges (
	src VARCHAR NOT NULL,
	dst VARCHAR NOT NULL,
	relation VARCHAR NOT NULL,
	seq BIGINT NOT NULL,
	PRIMARY KEY (src, dst, relation)
);

CREATE TABLE objects (
	digest VARCHAR NOT NULL,
	size BIGINT NOT NULL,
	media_type VARCHAR NOT NULL,
	seq BIGINT NOT NULL,
	PRIMARY KEY (digest)
);

CREATE TABLE snapshots (
	ref VARCHAR NOT NULL,
	dataset VARCHAR NOT NULL,
	version BIGINT NOT NULL,
	kind VARCHAR NOT NULL,
	format VARCHAR NOT NULL,
	dialect VARCHAR NOT NULL,
	raw_digest VARCHAR,
	parquet_digest VARCHAR NOT NULL,
	table_digest VARCHAR NOT NULL,
	profile_digest VARCHAR NOT NULL,
	rows BIGINT NOT NULL,
	columns VARCHAR NOT NULL,
	provenance VARCHAR NOT NULL,
	pii VARCHAR[] NOT NULL,
	sensitive VARCHAR[] NOT NULL,
	retention VARCHAR NOT NULL,
	transform_digest VARCHAR,
	encryption VARCHAR,
	pseudonyms VARCHAR,
	erased_seq BIGINT,
	created_seq BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (ref)
);

CREATE TABLE validations (
	seq BIGINT NOT NULL,
	snapshot VARCHAR NOT NULL,
	suite_name VARCHAR NOT NULL,
	suite_digest VARCHAR NOT NULL,
	result_digest VARCHAR NOT NULL,
	passed BOOLEAN NOT NULL,
	errors BIGINT NOT NULL,
	warnings BIGINT NOT NULL,
	checks BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE runs (
	run_id VARCHAR NOT NULL,
	seq BIGINT NOT NULL,
	name VARCHAR NOT NULL,
	input_ref VARCHAR NOT NULL,
	input_table_digest VARCHAR NOT NULL,
	spec_digest VARCHAR NOT NULL,
	environment_digest VARCHAR NOT NULL,
	model_digest VARCHAR NOT NULL,
	predictions_digest VARCHAR NOT NULL,
	metrics VARCHAR NOT NULL,
	estimator VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (run_id)
);

CREATE TABLE models (
	ref VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	version BIGINT NOT NULL,
	run_id VARCHAR NOT NULL,
	model_digest VARCHAR NOT NULL,
	seq BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (ref)
);

CREATE TABLE signatures (
	seq BIGINT NOT NULL,
	subject VARCHAR NOT NULL,
	key_id VARCHAR NOT NULL,
	envelope_digest VARCHAR NOT NULL,
	openssf_digest VARCHAR,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE reproductions (
	seq BIGINT NOT NULL,
	run_id VARCHAR NOT NULL,
	passed BOOLEAN NOT NULL,
	result_digest VARCHAR NOT NULL,
	differences VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE evaluations (
	seq BIGINT NOT NULL,
	model VARCHAR NOT NULL,
	evidence_digest VARCHAR NOT NULL,
	suite_digest VARCHAR NOT NULL,
	envelope_digest VARCHAR NOT NULL,
	key_id VARCHAR NOT NULL,
	passed BOOLEAN NOT NULL,
	errors BIGINT NOT NULL,
	warnings BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	verdict VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE score_evaluations (
	seq BIGINT NOT NULL,
	subject VARCHAR NOT NULL,
	snapshot VARCHAR NOT NULL,
	score_column VARCHAR NOT NULL,
	evidence_digest VARCHAR NOT NULL,
	suite_digest VARCHAR NOT NULL,
	spec_digest VARCHAR NOT NULL,
	envelope_digest VARCHAR NOT NULL,
	key_id VARCHAR NOT NULL,
	passed BOOLEAN NOT NULL,
	errors BIGINT NOT NULL,
	warnings BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE policies (
	seq BIGINT NOT NULL,
	digest VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	version VARCHAR NOT NULL,
	modules VARCHAR NOT NULL,
	installed_at VARCHAR NOT NULL,
	installed_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE model_risk (
	seq BIGINT NOT NULL,
	name VARCHAR NOT NULL,
	impact BIGINT NOT NULL,
	likelihood BIGINT NOT NULL,
	tier BIGINT NOT NULL,
	rationale VARCHAR NOT NULL,
	dpia VARCHAR,
	purpose VARCHAR,
	use VARCHAR,
	restrictions VARCHAR,
	owner VARCHAR,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE approvals (
	seq BIGINT NOT NULL,
	model VARCHAR NOT NULL,
	model_digest VARCHAR NOT NULL,
	stage VARCHAR NOT NULL,
	decision VARCHAR NOT NULL,
	role VARCHAR NOT NULL,
	approver VARCHAR NOT NULL,
	key_id VARCHAR NOT NULL,
	envelope_digest VARCHAR NOT NULL,
	policy_digest VARCHAR NOT NULL,
	evidence VARCHAR NOT NULL,
	conditions VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	recorded_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE lifecycle (
	seq BIGINT NOT NULL,
	model VARCHAR NOT NULL,
	model_digest VARCHAR NOT NULL,
	from_stage VARCHAR NOT NULL,
	to_stage VARCHAR NOT NULL,
	approvals VARCHAR NOT NULL,
	break_glass BOOLEAN NOT NULL,
	policy_digest VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE findings (
	seq BIGINT NOT NULL,
	model VARCHAR NOT NULL,
	model_digest VARCHAR NOT NULL,
	severity VARCHAR NOT NULL,
	title VARCHAR NOT NULL,
	owner VARCHAR NOT NULL,
	due VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	expires VARCHAR,
	opened_at VARCHAR NOT NULL,
	opened_by VARCHAR NOT NULL,
	updated_seq BIGINT NOT NULL,
	updated_at VARCHAR NOT NULL,
	updated_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE breakglass_reviews (
	seq BIGINT NOT NULL,
	promotion BIGINT NOT NULL,
	model VARCHAR NOT NULL,
	outcome VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE deployments (
	seq BIGINT NOT NULL,
	deployment_id VARCHAR NOT NULL,
	env VARCHAR NOT NULL,
	arm VARCHAR NOT NULL,
	model VARCHAR NOT NULL,
	model_digest VARCHAR NOT NULL,
	strategy VARCHAR NOT NULL,
	share FLOAT,
	replaces VARCHAR,
	rollback_of VARCHAR,
	retention VARCHAR NOT NULL,
	conditions VARCHAR NOT NULL,
	incident BIGINT,
	ended_seq BIGINT,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE throttles (
	seq BIGINT NOT NULL,
	env VARCHAR NOT NULL,
	share FLOAT,
	incident BIGINT,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE api_tokens (
	token_id VARCHAR NOT NULL,
	actor VARCHAR NOT NULL,
	env VARCHAR NOT NULL,
	digest VARCHAR NOT NULL,
	created_seq BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	revoked_seq BIGINT,
	PRIMARY KEY (token_id)
);

CREATE TABLE decision_batches (
	seq BIGINT NOT NULL,
	batch_id VARCHAR NOT NULL,
	env VARCHAR NOT NULL,
	deployments VARCHAR NOT NULL,
	object_digest VARCHAR NOT NULL,
	merkle_root VARCHAR NOT NULL,
	count BIGINT NOT NULL,
	refused BIGINT NOT NULL,
	errors BIGINT NOT NULL,
	first_ts VARCHAR NOT NULL,
	last_ts VARCHAR NOT NULL,
	first_request VARCHAR NOT NULL,
	last_request VARCHAR NOT NULL,
	source VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	stored_digest VARCHAR,
	PRIMARY KEY (seq)
);

CREATE TABLE decision_overrides (
	seq BIGINT NOT NULL,
	request_id VARCHAR NOT NULL,
	batch_seq BIGINT NOT NULL,
	outcome VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE outcome_batches (
	seq BIGINT NOT NULL,
	object_digest VARCHAR NOT NULL,
	rows BIGINT NOT NULL,
	matched BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE ops_configs (
	seq BIGINT NOT NULL,
	kind VARCHAR NOT NULL,
	env VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	digest VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE monitor_runs (
	seq BIGINT NOT NULL,
	env VARCHAR NOT NULL,
	window_start VARCHAR NOT NULL,
	window_end VARCHAR NOT NULL,
	evidence_digest VARCHAR NOT NULL,
	verdict VARCHAR NOT NULL,
	decisions BIGINT NOT NULL,
	deployment_id VARCHAR,
	model VARCHAR,
	checks VARCHAR NOT NULL,
	slo_digest VARCHAR,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE ops_alerts (
	seq BIGINT NOT NULL,
	env VARCHAR NOT NULL,
	slo VARCHAR NOT NULL,
	metric VARCHAR NOT NULL,
	observed FLOAT,
	threshold VARCHAR NOT NULL,
	verdict VARCHAR NOT NULL,
	monitor_seq BIGINT NOT NULL,
	incident BIGINT,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE incidents (
	seq BIGINT NOT NULL,
	env VARCHAR NOT NULL,
	title VARCHAR NOT NULL,
	severity VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	alert_seq BIGINT,
	slo VARCHAR,
	playbook VARCHAR,
	opened_at VARCHAR NOT NULL,
	opened_by VARCHAR NOT NULL,
	updated_seq BIGINT NOT NULL,
	closed_at VARCHAR,
	closed_by VARCHAR,
	resolution VARCHAR,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE incident_actions (
	seq BIGINT NOT NULL,
	incident BIGINT NOT NULL,
	action VARCHAR NOT NULL,
	detail VARCHAR NOT NULL,
	automatic BOOLEAN NOT NULL,
	status VARCHAR NOT NULL,
	step BIGINT,
	runbook VARCHAR,
	caused_seq BIGINT,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE pipeline_runs (
	seq BIGINT NOT NULL,
	name VARCHAR NOT NULL,
	spec_digest VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	steps VARCHAR NOT NULL,
	failed_step VARCHAR,
	report_digest VARCHAR,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE data_access (
	seq BIGINT NOT NULL,
	snapshot VARCHAR NOT NULL,
	purpose VARCHAR NOT NULL,
	target VARCHAR,
	columns VARCHAR,
	actor VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE erasures (
	seq BIGINT NOT NULL,
	target VARCHAR NOT NULL,
	snapshots VARCHAR[] NOT NULL,
	method VARCHAR NOT NULL,
	legal_basis VARCHAR NOT NULL,
	rule VARCHAR NOT NULL,
	receipt_digest VARCHAR NOT NULL,
	subject_column VARCHAR,
	replaced_by VARCHAR,
	models VARCHAR[] NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE holds (
	seq BIGINT NOT NULL,
	target VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	released_seq BIGINT,
	released_by VARCHAR,
	released_reason VARCHAR,
	PRIMARY KEY (seq)
);

CREATE TABLE retention_rules (
	target VARCHAR NOT NULL,
	period VARCHAR NOT NULL,
	previous VARCHAR,
	seq BIGINT NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (target)
);

CREATE TABLE retention_runs (
	seq BIGINT NOT NULL,
	as_of VARCHAR,
	erased VARCHAR NOT NULL,
	held VARCHAR NOT NULL,
	refused VARCHAR NOT NULL,
	decision_logs VARCHAR NOT NULL,
	created_at VARCHAR NOT NULL,
	created_by VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	PRIMARY KEY (seq)
);
