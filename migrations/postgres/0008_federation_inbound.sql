-- Inbound federation: transactions received from other servers, so a retried PUT /send/{txnId} gets the
-- first answer again instead of being processed twice. response_json: the /send answer as sent.
CREATE TABLE received_transactions (
    origin        TEXT   NOT NULL,
    txn_id        TEXT   NOT NULL,
    response_json TEXT   NOT NULL,
    received_ts   BIGINT NOT NULL,
    PRIMARY KEY (origin, txn_id)
);

CREATE INDEX received_transactions_ts ON received_transactions (received_ts);
