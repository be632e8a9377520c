-- Invoices and receipts for the billing page (issue 21, part 1): what the webhooks tell us about
-- each payment, so the page reads our database and never asks Stripe while it renders.

-- Every invoice: Stripe's number, when Stripe made it, and its hosted page. A credit pack's
-- invoice (Checkout's `invoice_creation`) is stored here too, with no subscription: revenue
-- counts packs by their checkout, so readers of subscription invoices say `subscription_id IS
-- NOT NULL`.
ALTER TABLE invoices
    ADD COLUMN number             text,
    ADD COLUMN hosted_invoice_url text,
    ADD COLUMN stripe_created_at  timestamptz;

-- The invoice Checkout made for a pack (the session's `invoice`).
ALTER TABLE checkout_sessions ADD COLUMN invoice_id text;

-- Successful charges of our customers (`charge.succeeded`, `charge.refunded`): the receipt,
-- and how a payment finds it: a pack by its payment intent, an invoice by its id.
CREATE TABLE charges (
    id                text CONSTRAINT charges_pkey PRIMARY KEY,  -- ch_… / py_…
    user_id           bigint NOT NULL CONSTRAINT charges_user_fkey REFERENCES users (id),
    payment_intent    text,
    invoice_id        text,
    amount            bigint NOT NULL,
    currency          text NOT NULL,
    receipt_url       text,
    stripe_created_at timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charges_payment_intent_idx ON charges (payment_intent);
CREATE INDEX charges_invoice_idx ON charges (invoice_id);
CREATE INDEX charges_user_idx ON charges (user_id);
