// Asks the reason of a rejection (the API requires one).
import { useState } from "react";
import { Button } from "./ui";
import Modal from "./Modal";

/** A dialog with a required reason text. */
export default function ReasonDialog({
  title,
  onConfirm,
  onCancel,
}: {
  title: string;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
}) {
  const [reason, setReason] = useState("");
  return (
    <Modal title={title} onClose={onCancel}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (reason.trim()) onConfirm(reason.trim());
        }}
        className="space-y-3"
      >
        <label className="block text-sm">
          <span className="text-slate-700">Motif (obligatoire)</span>
          <textarea
            name="reason"
            required
            rows={3}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            className="mt-1 w-full rounded-md border border-slate-300 px-3 py-2 text-sm"
          />
        </label>
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={onCancel}>
            Annuler
          </Button>
          <Button type="submit" variant="danger" disabled={!reason.trim()}>
            Confirmer
          </Button>
        </div>
      </form>
    </Modal>
  );
}
