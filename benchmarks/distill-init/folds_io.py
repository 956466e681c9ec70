# .npy reading and writing in plain Python (numpy is not needed), for folds.py and heldout.py.
import ast, struct

def read(p):
    b = open(p, 'rb').read()
    hl = struct.unpack('<H', b[8:10])[0]; h = ast.literal_eval(b[10:10+hl].decode('latin1'))
    shape = h['shape']; data = b[10+hl:]
    n = shape[0]; row = len(data)//n
    return h, [data[i*row:(i+1)*row] for i in range(n)]
def write(p, h, rows):
    h = dict(h); h['shape'] = (len(rows),) + tuple(h['shape'][1:])
    s = repr(h).encode('latin1'); pad = 64 - (10 + len(s) + 1) % 64
    s = s + b' '*pad + b'\n'
    open(p, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(s)) + s + b''.join(rows))
