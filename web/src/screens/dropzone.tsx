import { useState } from 'preact/hooks';

/** A file input that also takes drag and drop; keyboard users get the native input. */
export function DropZone({ files, onFiles, label, id, multiple = false }: { files: File[]; onFiles: (f: File[]) => void; label: string; id: string; multiple?: boolean }) {
  const [over, setOver] = useState(false);
  return (
    <div
      class={`drop ${over ? 'over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        const list = [...(e.dataTransfer?.files ?? [])].filter((f) => f.type.startsWith('image/'));
        if (list.length) onFiles(multiple ? list : list.slice(0, 1));
      }}
    >
      <label for={id}>{label}</label>
      <input id={id} type="file" accept="image/*" multiple={multiple} onChange={(e) => onFiles([...(e.currentTarget.files ?? [])])} />
      {files.length > 0 && <p class="muted">{files.map((f) => f.name).join(', ')}</p>}
    </div>
  );
}
