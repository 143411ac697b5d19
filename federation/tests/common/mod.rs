//! Shared test fixtures: a tiny DNS server on 127.0.0.1 answering from a fixed table.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record};
use tokio::net::UdpSocket;

/// A record the test DNS server answers with.
#[derive(Clone)]
#[allow(dead_code)]
pub enum TestRecord {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Srv(u16, u16, u16, &'static str),
}

/// A UDP DNS server on 127.0.0.1 answering from a fixed table; unknown names get NXDOMAIN.
pub async fn start_dns(records: Vec<(&'static str, TestRecord)>) -> SocketAddr {
    let socket = match UdpSocket::bind("127.0.0.1:0").await {
        Ok(s) => s,
        Err(e) => panic!("bind: {e}"),
    };
    let Ok(addr) = socket.local_addr() else {
        panic!("local addr")
    };
    let mut table: HashMap<String, Vec<TestRecord>> = HashMap::new();
    for (name, record) in records {
        table.entry(format!("{name}.")).or_default().push(record);
    }
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(request) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let mut response = Message::new();
            response
                .set_id(request.id())
                .set_message_type(MessageType::Response)
                .set_op_code(request.op_code())
                .set_recursion_desired(request.recursion_desired())
                .set_recursion_available(true)
                .set_authoritative(true);
            for query in request.queries() {
                response.add_query(query.clone());
                let name = query.name().to_lowercase().to_utf8();
                let Some(records) = table.get(&name) else {
                    response.set_response_code(ResponseCode::NXDomain);
                    continue;
                };
                for record in records {
                    let rdata = match (record, query.query_type().to_string().as_str()) {
                        (TestRecord::A(ip), "A") => RData::A(A(*ip)),
                        (TestRecord::Aaaa(ip), "AAAA") => RData::AAAA(AAAA(*ip)),
                        (TestRecord::Srv(priority, weight, port, target), "SRV") => {
                            let Ok(target) = Name::from_utf8(format!("{target}.")) else {
                                continue;
                            };
                            RData::SRV(SRV::new(*priority, *weight, *port, target))
                        }
                        _ => continue,
                    };
                    response.add_answer(Record::from_rdata(query.name().clone(), 60, rdata));
                }
            }
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}
